"""``rl.training.stop.*``: the stop criteria a job may name (Tune's result keys, as SageMaker RL's experiments name
them, plus a backend's own: the offline one's ``epochs`` and ``gradient_steps``), and their check, shared by the
full hyperparameter check and the quick one before a backend's library loads."""

from __future__ import annotations

import difflib
import math
from types import MappingProxyType
from typing import Any, Mapping

from runtime.config.values import ValueCheck

STOP_PREFIX = "rl.training.stop."
STOP_TIME_TOTAL_S = "time_total_s"
STOP_TRAINING_ITERATION = "training_iteration"
STOP_TIMESTEPS_TOTAL = "timesteps_total"
STOP_EPISODE_REWARD_MEAN = "episode_reward_mean"

STOP_KEYS: Mapping[str, ValueCheck] = MappingProxyType(
    {
        STOP_TIME_TOTAL_S: ValueCheck((int, float), lambda v: v > 0, "a number of seconds > 0"),
        STOP_TRAINING_ITERATION: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        STOP_TIMESTEPS_TOTAL: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        STOP_EPISODE_REWARD_MEAN: ValueCheck((int, float), lambda v: math.isfinite(v), "a finite number"),
        # Tune 1.x's other result keys, as SageMaker RL's experiments name them:
        "episodes_total": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        **{key: ValueCheck((int, float), lambda v: math.isfinite(v), "a finite number")
           for key in ("episode_reward_max", "episode_reward_min", "episode_len_mean")},
    }
)


def all_stop_keys(backend_keys: Mapping[str, ValueCheck]) -> dict[str, ValueCheck]:
    """The stop criteria a job of a backend may name: :data:`STOP_KEYS` and the backend's own (``backend_keys``)."""
    return {**STOP_KEYS, **backend_keys}


def check_stop(given: Mapping[str, Any], keys: Mapping[str, ValueCheck]) -> tuple[dict[str, Any], list[str]]:
    """The ``rl.training.stop.*`` hyperparameters ``given`` (full names), checked against ``keys``
    (:func:`all_stop_keys`): (the criteria by short name, their values coerced; the problems)."""
    stop: dict[str, Any] = {}
    problems = []
    for key, value in given.items():
        rest = key[len(STOP_PREFIX):]
        if rest not in keys:
            close = difflib.get_close_matches(rest, sorted(keys), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(f"Unknown stop criterion '{key}'.{hint} Valid: {', '.join(STOP_PREFIX + k for k in keys)}")
            continue
        problem = keys[rest].problem(key, value)
        if problem:
            problems.append(problem)
        else:
            stop[rest] = keys[rest].coerce(value)
    return stop, problems
