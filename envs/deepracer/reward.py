"""The reward contract: a user's ``reward_function(params) -> float``, loaded from a Python file and called safely."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import numbers
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

REWARD_LIMIT = 1e5
CRASH_REWARD = 1e-8


class RewardFunctionError(ValueError):
    """The user's reward function could not be loaded, raised an exception, or returned a bad value."""


def follow_center_line(params: Mapping[str, Any]) -> float:
    """The documentation's example "follow the centre line" reward (AWS DeepRacer's default reward function)."""
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]
    marker_1 = 0.1 * track_width
    marker_2 = 0.25 * track_width
    marker_3 = 0.5 * track_width
    if distance_from_center <= marker_1:
        reward = 1.0
    elif distance_from_center <= marker_2:
        reward = 0.5
    elif distance_from_center <= marker_3:
        reward = 0.1
    else:
        reward = 1e-3  # likely crashed / close to off track
    return float(reward)


def load_reward_function(path: str | Path) -> Callable[[dict], Any]:
    """Import ``reward_function`` from the Python file at ``path``; :class:`RewardFunctionError` if impossible."""
    path = Path(path)
    if not path.is_file():
        raise RewardFunctionError(f"Reward function file {path} does not exist.")
    name = f"rlrt_user_reward_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RewardFunctionError(f"Cannot import {path} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - any failure in user code is reported the same way
        sys.modules.pop(name, None)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise RewardFunctionError(f"Importing the reward function file {path} failed: {detail}") from None
    function: object = getattr(module, "reward_function", None)
    if not callable(function):
        found = sorted(n for n in vars(module) if callable(vars(module)[n]) and not n.startswith("_"))
        raise RewardFunctionError(
            f"{path} defines no function named 'reward_function(params)'"
            + (f" (it defines: {', '.join(found)})." if found else ".")
        )
    return function


def describe_params(params: Mapping[str, Any], max_list: int = 6) -> str:
    """A readable one-line rendering of params for error messages (long lists shortened)."""
    shown = {}
    for key, value in params.items():
        if isinstance(value, list) and len(value) > max_list:
            shown[key] = f"[{len(value)} items: {json.dumps(value[:2], default=str)[1:-1]}, ...]"
        else:
            shown[key] = value
    return json.dumps(shown, default=str)


def call_reward(function: Callable[[dict], Any], params: Mapping[str, Any]) -> float:
    """Call the user's function with a copy of ``params``; check the result is a finite number in +-1e5."""
    where = f"at step {params.get('steps')}"
    try:
        value = function(copy.deepcopy(dict(params)))
    except Exception as exc:  # noqa: BLE001
        tb = traceback.extract_tb(exc.__traceback__)
        line = f" (line {tb[-1].lineno} of {tb[-1].filename})" if tb else ""
        raise RewardFunctionError(
            f"reward_function raised {type(exc).__name__}: {exc}{line} {where}, with params {describe_params(params)}"
        ) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RewardFunctionError(
            f"reward_function returned {value!r} ({type(value).__name__}) {where}; it must return a number. "
            f"Params: {describe_params(params)}"
        )
    reward = float(value)
    if not math.isfinite(reward) or abs(reward) > REWARD_LIMIT:
        raise RewardFunctionError(
            f"reward_function returned {value!r} {where}; a reward must be finite and within "
            f"[-{REWARD_LIMIT:g}, {REWARD_LIMIT:g}]. Params: {describe_params(params)}"
        )
    return reward
