"""Property-based: the SageMaker RL Coach examples' preset files (../shared/coach), each with one setting changed to a
bad value (negative, zero, out of range, of the wrong type, a step count of the wrong kind) in the file or by a
hyperparameter, or with a hyperparameter's name misspelt, either translate to a job that rlrt's own check of the
backend's keys accepts, or are refused by a ``UserError`` in the preset's words: the setting's Coach name, where it
was set, never an RLlib / d3rlpy key (``gamma``, ``rl.training.config.*``) and never another exception.
Translation only (no training): about 3 s."""

from __future__ import annotations

import functools
import math
import os
import runpy
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.backends.d3rlpy.config_keys import quick_problems as d3rlpy_problems
from runtime.backends.rllib.config_keys import quick_problems as rllib_problems
from runtime.errors import UserError
from sagemaker_rl.coach_launcher import CoachConfigurationList
from sagemaker_rl.coach_translate import translate
from sagemaker_rl.coach_values import hyperparameter_origins
from sagemaker_rl.compat.coach_steps import EnvironmentEpisodes, EnvironmentSteps, Time, TrainingSteps
from tests.unit.test_rl_coach_params import PRESETS, rl_coach  # noqa: F401 - the fixture

CONFIG = "rl.training.config."
ROOTS = (
    "agent_params",
    "env_params",
    "visualization_parameters",
    "preset_validation_params",
    "improve_steps",
    "heatup_steps",
    "evaluation_steps",
    "steps_between_evaluation_periods",
    "reward_model_num_epochs",
)
BAD = [
    -1,
    0,
    -0.5,
    1.5,
    10**9,
    -(10**9),
    "abc",
    "",
    None,
    True,
    float("nan"),
    float("inf"),
    [1],
    {},
    EnvironmentSteps(-3),
    EnvironmentEpisodes(0),
    TrainingSteps(2.5),
    Time(-1),
]
"""Values a preset or a hyperparameter may give a setting by mistake."""
EXAMPLES = settings(
    max_examples=int(os.environ.get("RLRT_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _leaves(value: Any, path: str, seen: set[int]) -> Iterator[str]:
    """The paths of the settings under ``value`` (numbers, text, flags, step counts: what a preset assigns)."""
    if id(value) in seen or isinstance(value, type) or callable(value) and not hasattr(value, "__dict__"):
        return
    if isinstance(value, dict):
        seen.add(id(value))
        for key, item in value.items():
            if isinstance(key, str):
                yield from _leaves(item, f"{path}.{key}", seen)
    elif isinstance(value, list):
        seen.add(id(value))
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}.{index}", seen)
    elif hasattr(value, "__dict__") and not isinstance(value, Enum) and not hasattr(value, "num_steps"):
        seen.add(id(value))
        for key, item in vars(value).items():
            if not key.startswith("_"):
                yield from _leaves(item, f"{path}.{key}", seen)
    else:
        yield path


@functools.lru_cache(maxsize=None)
def _settings(preset: Path) -> list[str]:
    gm = runpy.run_path(str(preset))["graph_manager"]
    seen = {id(gm.agent_params.visualization)}  # the graph manager's visualization_parameters, walked once
    return [leaf for root in ROOTS if hasattr(gm, root) for leaf in _leaves(getattr(gm, root), root, seen)]


def _parent(obj: Any, path: str) -> tuple[Any, str]:
    *parts, name = path.split(".")
    for part in parts:
        obj = obj[part] if isinstance(obj, dict) else obj[int(part)] if isinstance(obj, list) else getattr(obj, part)
    return obj, name


def _set(gm: Any, path: str, value: Any) -> None:
    """``path = value`` as a preset's own line would assign it."""
    parent, name = _parent(gm, path)
    if isinstance(parent, dict):
        parent[name] = value
    elif isinstance(parent, list):
        parent[int(name)] = value
    else:
        setattr(parent, name, value)


def _as_hyperparameter(path: str, value: Any) -> tuple[str, Any] | None:
    """``rl.<path>`` and the value as a job gives it (text; a step count as ``:Kind`` and its number), or None when a
    hyperparameter cannot give it."""
    if hasattr(value, "num_steps"):
        return f"rl.{path}:{type(value).__name__}", value.num_steps
    if isinstance(value, (bool, int, float, str)) and not (isinstance(value, float) and not math.isfinite(value)):
        return f"rl.{path}", str(value) if not isinstance(value, bool) else value
    return None


def _rlrt_keys_accept(job: Any) -> list[str]:
    config = {k[len(CONFIG) :]: v for k, v in job.hyperparameters.items() if k.startswith(CONFIG)}
    if job.algorithm == "DiscreteBCQ":
        return d3rlpy_problems(job.algorithm, config)
    return rllib_problems(job.algorithm, config)


@functools.lru_cache(maxsize=None)
def _translated_keys(preset: Path) -> set[str]:
    """The backend's keys the preset becomes, as it is."""
    job = translate(runpy.run_path(str(preset))["graph_manager"])
    return {key[len(CONFIG) :] for key in job.hyperparameters if key.startswith(CONFIG)}


def _in_coach_words(message: str, setting: str, translated_keys: set[str]) -> None:
    assert setting in message, f"{message!r} does not name {setting}"
    assert "rl.training" not in message, message
    named = [key for key in translated_keys if f"'{key}'" in message]
    assert not named, f"{message!r} names the translated key(s) {named}"


@given(data=st.data())
@EXAMPLES
def test_one_bad_setting_is_translated_or_refused_in_coach_words(rl_coach: None, data: st.DataObject) -> None:
    preset = data.draw(st.sampled_from(PRESETS), label="preset")
    path = data.draw(st.sampled_from(_settings(preset)), label="setting")
    value = data.draw(st.sampled_from(BAD), label="value")
    by_hyperparameter = data.draw(st.booleans(), label="by hyperparameter") and _as_hyperparameter(path, value)
    keys = _translated_keys(preset)
    gm = runpy.run_path(str(preset))["graph_manager"]
    origins: dict[str, str] = {}
    if by_hyperparameter:
        applied = CoachConfigurationList()
        applied.store(*by_hyperparameter)
        origins = hyperparameter_origins(applied.hp_dict)
        applied.apply_subset(gm, "rl.")
    else:
        _set(gm, path, value)
    try:
        job = translate(gm, origins)
    except UserError as exc:
        _in_coach_words(str(exc), path if not origins else by_hyperparameter[0], keys)
        if not origins and hasattr(_parent(gm, path)[0], "rlrt_where"):  # a dict's or a list's item has no line
            assert f"{Path(__file__).name}, line" in str(exc), str(exc)
        return
    assert _rlrt_keys_accept(job) == [], (path, value)


def _misspelt(name: str, draw: Any) -> str:
    index = draw(st.integers(0, len(name) - 1), label="at")
    kind = draw(st.sampled_from(["drop", "double", "swap"]), label="typo")
    if kind == "drop" and len(name) > 3:
        return name[:index] + name[index + 1 :]
    if kind == "swap" and index + 1 < len(name) and name[index] != name[index + 1]:
        return name[:index] + name[index + 1] + name[index] + name[index + 2 :]
    return name[:index] + name[index] + name[index:]


@given(data=st.data())
@EXAMPLES
def test_a_misspelt_hyperparameter_is_refused_as_the_file_refuses_it(rl_coach: None, data: st.DataObject) -> None:
    """A hyperparameter under Coach's names with one part misspelt: refused naming it, with the closest name, as a
    preset's own misspelt assignment is (``Parameter 'discont' does not exist``)."""
    preset = data.draw(st.sampled_from(PRESETS), label="preset")
    path = data.draw(st.sampled_from(_settings(preset)), label="setting")
    parts = path.split(".")
    at = data.draw(st.sampled_from([i for i, part in enumerate(parts) if not part.isdigit()]), label="part")
    parts[at] = _misspelt(parts[at], data.draw)
    typo = ".".join(parts)
    gm = runpy.run_path(str(preset))["graph_manager"]
    parent, _ = _parent(gm, ".".join(path.split(".")[: at + 1]))
    applied = CoachConfigurationList()
    applied.store(f"rl.{typo}", 1)
    try:
        applied.apply_subset(gm, "rl.")
    except UserError as exc:
        assert f"The hyperparameter rl.{typo} names nothing" in str(exc), str(exc)
        assert "Did you mean rl." in str(exc), str(exc)
        return
    # Only a dict takes a new key (the environment's keyword arguments), or the typo spelt another setting.
    assert isinstance(parent, dict) or typo in _settings(preset), typo
