"""What each RLlib configuration key takes, as data: the *kind* of its value (``"int"``, ``"float"``, ``"bool"``,
``"str"``, ``"list"``, ``"dict"``; ``"object"`` for a class or function, ``"removed"`` for RLlib's
``DEPRECATED_VALUE``; None: anything), derived from RLlib's default, and the checks of a value against it.

One :class:`Schema` per algorithm serves both checks, so that they say the same words: the full check builds it from
the installed RLlib's defaults (:func:`runtime.backends.rllib.validator.live_schema`), the quick check reads it from
``config_keys.json`` before RLlib is imported (:mod:`runtime.backends.rllib.config_keys`, verified by a test).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from runtime.backends.rllib.no_effect import refusal
from runtime.config.values import ValueCheck, coerce_value, shown

PREFIX = "rl.training.config."

# Keys whose RLlib default is None (meaning "derive it"), with a value of the type they take.
_TYPE_OF_NONE_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "train_batch_size_per_learner": 1,
        "minibatch_size": 1,
        "grad_clip": 1.0,
        "seed": 1,
        "rollout_fragment_length": 1,
        "evaluation_interval": 1,
        "min_time_s_per_iteration": 1.0,
    }
)
# Keys whose RLlib default is "auto" and that otherwise take a number (of the type given).
_AUTO_OR_NUMBER: Mapping[str, Any] = MappingProxyType({"rollout_fragment_length": 1, "num_cpus_per_learner": 1.0})
# Settings that take a number or a piecewise-linear schedule [[timestep, value], ...] starting at timestep 0.
SCHEDULABLE = ("lr", "entropy_coeff")
_BASIC = (int, float, str, list, dict)
_REPRESENTATIVE: Mapping[str, Any] = MappingProxyType({"object": object, "removed": -1, "str": ""})
"""A default of each kind that decides a refusal (:func:`runtime.backends.rllib.no_effect.refusal`)."""


def _in_range(predicate: Any, meaning: str) -> ValueCheck:
    """A range check of a number (int or float: the type is checked against the key's kind by _type_problem)."""
    return ValueCheck((int, float), predicate, meaning)


# Range checks for the keys users tune most; RLlib checks the rest when it builds.
RANGES: Mapping[str, ValueCheck] = MappingProxyType(
    {
        "lr": _in_range(lambda v: v > 0, "a number > 0"),
        "gamma": _in_range(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
        "lambda": _in_range(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
        "clip_param": _in_range(lambda v: v > 0, "a number > 0"),
        "kl_coeff": _in_range(lambda v: v >= 0, "a number >= 0"),
        "kl_target": _in_range(lambda v: v > 0, "a number > 0"),
        "entropy_coeff": _in_range(lambda v: v >= 0, "a number >= 0"),
        "vf_loss_coeff": _in_range(lambda v: v >= 0, "a number >= 0"),
        "num_epochs": _in_range(lambda v: v >= 1, "an integer >= 1"),
        "minibatch_size": _in_range(lambda v: v >= 1, "an integer >= 1"),
        "train_batch_size_per_learner": _in_range(lambda v: v >= 1, "an integer >= 1"),
        "num_env_runners": _in_range(lambda v: v >= 0, "an integer >= 0"),
        "num_envs_per_env_runner": _in_range(lambda v: v >= 1, "an integer >= 1"),
        "num_gpus_per_learner": _in_range(lambda v: v >= 0, "a number >= 0"),
        "grad_clip": _in_range(lambda v: v > 0, "a number > 0"),
        # Counts and sizes: RLlib takes a negative or zero one and fails later (or never starts).
        **{
            key: _in_range(lambda v: v >= 1, "an integer >= 1")
            for key in (
                "rollout_fragment_length",
                "evaluation_duration",
                "metrics_num_episodes_for_smoothing",
                "n_step",
                "num_atoms",
                "max_requests_in_flight_per_env_runner",
            )
        },
        **{
            key: _in_range(lambda v: v >= 0, "an integer >= 0")
            for key in (
                "num_learners",
                "evaluation_interval",
                "evaluation_num_env_runners",
                "target_network_update_freq",
                "num_steps_sampled_before_learning_starts",
                "min_sample_timesteps_per_iteration",
            )
        },
        **{
            key: _in_range(lambda v: v >= 0, "a number >= 0")
            for key in (
                "num_cpus_per_env_runner",
                "num_gpus_per_env_runner",
                "num_cpus_per_learner",
                "num_cpus_for_main_process",
            )
        },
    }
)
# The same for model settings (``model_config.<key>``). RLlib clips log standard deviations at +-20.
MODEL_RANGES: Mapping[str, ValueCheck] = MappingProxyType(
    {
        "log_std_init": _in_range(
            lambda v: -20 <= v <= 20, "a number in [-20, 20] (the log of the initial standard deviation)"
        )
    }
)


def kind_of(key: str, default: Any) -> str | None:
    """The kind of value ``key`` takes, from RLlib's ``default`` for it (see the module's docstring)."""
    if isinstance(default, type) or callable(default) and not isinstance(default, _BASIC):
        return "object"
    if not isinstance(default, bool) and isinstance(default, (int, float)) and default == -1:
        return "removed"
    default = _TYPE_OF_NONE_DEFAULTS.get(key) if default is None else default
    default = _AUTO_OR_NUMBER.get(key, default)
    for kind, types in (
        ("bool", bool),
        ("int", int),
        ("float", float),
        ("str", str),
        ("list", (list, tuple)),
        ("dict", dict),
    ):
        if isinstance(default, types):
            return kind
    return None


@dataclass(frozen=True)
class Schema:
    """One algorithm's configuration as data: every key RLlib has (in RLlib's order) with its kind, and the model
    settings ``model_config`` takes (DefaultModelConfig's and rlrt's own) with theirs."""

    kinds: Mapping[str, str | None]
    model: Mapping[str, str | None]

    @classmethod
    def from_defaults(cls, defaults: Mapping[str, Any], model_fields: Mapping[str, Any]) -> Schema:
        """The schema of an algorithm from RLlib's defaults and the model settings' defaults."""
        return cls(
            MappingProxyType({key: kind_of(key, value) for key, value in defaults.items()}),
            MappingProxyType({key: kind_of(key, value) for key, value in model_fields.items()}),
        )

    def refusal(self, key: str) -> str | None:
        """Why ``key`` (one RLlib has) is refused, or None (:func:`runtime.backends.rllib.no_effect.refusal`)."""
        return refusal(key, _REPRESENTATIVE.get(self.kinds.get(key) or ""))


def coerce_number(value: Any, kind: str | None) -> Any:
    """A string that spells the number a key of ``kind`` takes (``"int"`` or ``"float"``), as that number."""
    if not isinstance(value, str) or kind not in ("int", "float"):
        return value
    return coerce_value(value, (int,) if kind == "int" else (int, float))


def _schedule_problem(key: str, value: Any, meaning: str) -> str | None:
    """Check a piecewise-linear schedule ``[[timestep, value], ...]`` (RLlib's Scheduler format)."""
    text = shown(value)
    expected = f"'{key}' must be {meaning} or a schedule [[0, value], [timestep, value], ...], got {text}"
    if not isinstance(value, (list, tuple)) or not value:
        return expected
    steps = []
    for point in value:
        if (
            not isinstance(point, (list, tuple))
            or len(point) != 2
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in point)
        ):
            return expected
        if not point[1] >= 0 or not (isinstance(point[0], int) or point[0].is_integer()):
            return f"'{key}' schedule points must be [integer timestep, value >= 0], got {json.dumps(point)}"
        steps.append(point[0])
    if steps[0] != 0:
        return f"'{key}' schedule must start at timestep 0, got {text}"
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return f"'{key}' schedule timesteps must increase, got {text}"
    return None


def _type_problem(key: str, value: Any, kind: str | None) -> str | None:
    """Check ``value`` against the kind of value ``key`` takes."""
    given = shown(value)
    if kind == "bool":
        if not isinstance(value, bool):
            return f"'{key}' must be true or false, got {given}"
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return None
            return f"'{key}' must be an integer, got {given}"
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"'{key}' must be a number, got {given}"
    elif kind == "str":
        if not isinstance(value, str):
            return f"'{key}' must be a string, got {given}"
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            return f"'{key}' must be a list, got {given}"
    elif kind == "dict":
        if not isinstance(value, dict):
            return f"'{key}' must be a JSON object, got {given}"
    return None


def _range_problem(name: str, value: Any, check: ValueCheck | None) -> str | None:
    """Check a number against ``check``, when there is one (a value that is no number has a type problem)."""
    if check is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return check.problem(name, value)


def value_problem(key: str, value: Any, kind: str | None) -> str | None:
    """The problem with ``value`` of ``rl.training.config.<key>`` (a key RLlib has, not refused), or None."""
    name = PREFIX + key
    if key in _AUTO_OR_NUMBER and isinstance(value, str) and value == "auto":
        return None
    if key in SCHEDULABLE and isinstance(value, (list, tuple)):
        return _schedule_problem(name, value, RANGES[key].meaning if key in RANGES else "a number")
    return _type_problem(name, value, kind) or _range_problem(name, value, RANGES.get(key))


def model_value_problem(sub: str, value: Any, kind: str | None) -> str | None:
    """The problem with ``value`` of the model setting ``rl.training.config.model_config.<sub>``, or None."""
    name = f"{PREFIX}model_config.{sub}"
    return _type_problem(name, value, kind) or _range_problem(name, value, MODEL_RANGES.get(sub))


def as_typed(problem: str, name: str, typed: str) -> str:
    """``problem`` about ``rl.training.config.<name>`` said of the key the user typed: ``'rl.training.config.
    num_sgd_iter' (RLlib 2.x: num_epochs) must be ...``."""
    return problem.replace(f"'{PREFIX}{name}'", f"'{PREFIX}{typed}' (RLlib 2.x: {name})", 1)
