"""The d3rlpy backend: which algorithms train offline, and ``rl.training.config.*`` -> d3rlpy config fields.

``rl.training.config.<field>`` sets a field of the algorithm's d3rlpy config dataclass (``DiscreteBCQConfig``,
``BCQConfig``, ...), e.g. ``learning_rate``, ``batch_size``, ``gamma``, ``target_update_interval``,
``action_flexibility``. Factory fields (``observation_scaler``, ``reward_scaler``, ``encoder_factory``,
``optim_factory``, ``q_func_factory``, ...) take a type name (``"standard"``, ``"vector"``, ``"adam"``, ``"none"``) or
d3rlpy's own form ``{"type": ..., "params": {...}}``. The seeds' Coach names are translated (``discount`` -> ``gamma``,
``num_steps_between_copying_online_weights_to_target`` -> ``target_update_interval``, ``lr`` -> ``learning_rate``,
``softmax_temperature`` -> ``ope_temperature``). rlrt's own keys (:data:`OWN_KEYS`) configure the driver.

Stop criteria (``rl.training.stop.*``): ``epochs`` (or ``training_iteration``), ``gradient_steps`` (or
``timesteps_total``: offline, a training step is a gradient step), ``time_total_s``, and ``episode_reward_mean``
(the per-epoch evaluation return, when ``evaluation_episodes`` > 0).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import math
from types import MappingProxyType
from typing import Any, Mapping

from runtime.backends.d3rlpy.library import import_d3rlpy
from runtime.config.hyperparameters import ConfigValidator
from runtime.config.values import ValueCheck, coerce_value
from runtime.errors import UserError

# rlrt algorithm name (case-insensitive) -> (d3rlpy config class path, discrete actions?)
ALGORITHMS: Mapping[str, tuple[str, bool]] = MappingProxyType(
    {
        "DiscreteBCQ": ("d3rlpy.algos:DiscreteBCQConfig", True),
        "BCQ": ("d3rlpy.algos:BCQConfig", False),
        "DiscreteCQL": ("d3rlpy.algos:DiscreteCQLConfig", True),
        "CQL": ("d3rlpy.algos:CQLConfig", False),
        "DoubleDQN": ("d3rlpy.algos:DoubleDQNConfig", True),
    }
)
ALIASES: Mapping[str, str] = MappingProxyType({"DDQN_BCQ": "DiscreteBCQ", "DDQNBCQ": "DiscreteBCQ", "D3RLPY_BCQ": "BCQ"})

COACH_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "discount": "gamma",
        "num_steps_between_copying_online_weights_to_target": "target_update_interval",
        "lr": "learning_rate",
        "softmax_temperature": "ope_temperature",
    }
)

SELECTORS = ("last", "ope_sdr", "ope_wis", "ope_is", "ope_fqe", "episode_reward_mean")
"""What ``select_by`` may pick the exported epoch by (``last``: no selection)."""

# rlrt's own keys, with their defaults
OWN_KEYS: Mapping[str, ValueCheck] = MappingProxyType(
    {
        "n_steps_per_epoch": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1 (gradient steps per epoch)", 1000),
        "hidden_units": ValueCheck((list,), lambda v: bool(v) and all(isinstance(u, int) and u > 0 for u in v),
                                   "a list of layer sizes such as [256, 256]", None),
        "evaluation_episodes": ValueCheck((int,), lambda v: v >= 0,
                                          "an integer >= 0 (env episodes evaluated each epoch)", 0),
        "ope_temperature": ValueCheck((int, float), lambda v: v > 0,
                                      "a number > 0 (softmax temperature of the OPE target policy)", 1.0),
        "fqe_steps": ValueCheck((int,), lambda v: v >= 0, "an integer >= 0 (FQE gradient steps each epoch; 0: FQE off)",
                                0),
        "time_limit": ValueCheck((int,), lambda v: v >= 1,
                                 "an integer >= 1 (episodes this long ended by a time limit)", None),
        "select_by": ValueCheck((str,), lambda v: v in SELECTORS, "one of " + ", ".join(SELECTORS), "last"),
        "num_threads": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1 (torch CPU threads)", 1),
        "input": ValueCheck((str,), lambda v: bool(v.strip()),
                            "a .csv/.parquet file or folder of logged rollouts (RLlib 1.x's input)", None),
    }
)


def canonical_algorithm(name: str) -> str | None:
    """The d3rlpy algorithm ``name`` stands for, or None when it is not an offline algorithm."""
    lowered = {k.lower(): k for k in ALGORITHMS}
    lowered.update({k.lower(): v for k, v in ALIASES.items()})
    return lowered.get(name.strip().lower())


def is_offline_algorithm(name: str) -> bool:
    """Whether ``name`` (an ``algorithm`` of a preset or ``rl.training.run``) trains with d3rlpy from logged data."""
    return canonical_algorithm(name) is not None


def config_class(algorithm: str) -> type:
    """The d3rlpy config dataclass of ``algorithm``."""
    name = canonical_algorithm(algorithm)
    if name is None:
        raise UserError(f"'{algorithm}' is not an offline algorithm; offline algorithms: {', '.join(ALGORITHMS)}.")
    import_d3rlpy()
    module, cls = ALGORITHMS[name][0].split(":")
    return getattr(importlib.import_module(module), cls)


def is_discrete(algorithm: str) -> bool:
    name = canonical_algorithm(algorithm)
    return bool(name and ALGORITHMS[name][1])


def _fields(algorithm: str) -> dict[str, Any]:
    cls = config_class(algorithm)
    defaults = cls()
    return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(cls)}


def _factory_field(value: Any) -> bool:
    from d3rlpy.serializable_config import DynamicConfig  # heavy: d3rlpy (offline jobs only)

    return value is None or isinstance(value, DynamicConfig)


def _to_serialized(value: Any) -> Any:
    """A factory value as d3rlpy's ``{"type", "params"}`` dict (a bare type name allowed)."""
    if isinstance(value, str):
        return {"type": value, "params": {}}
    return value


def _coerce_field_number(algorithm: str, key: str, value: str) -> Any:
    """A string that spells the number ``key`` (an rlrt key or a field of the d3rlpy config) takes, as that number
    (SageMaker's algorithms accept ``"64"``)."""
    if key in OWN_KEYS:
        return OWN_KEYS[key].coerce(value)
    default = _fields(algorithm).get(key)
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return value
    return coerce_value(value, (int,) if isinstance(default, int) else (int, float))


class D3rlpyValidator(ConfigValidator):
    """Checks ``rl.training.config.*`` for a d3rlpy algorithm (the ``ConfigValidator`` protocol)."""

    def translate(self, algorithm: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """Coach names -> d3rlpy names; no env_config additions."""
        out: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in config.items():
            new = COACH_NAMES.get(key, key)
            if new in out and new != key:
                problems.append(f"'{key}' and '{new}' both given; give only '{new}'")
            out[new] = _coerce_field_number(algorithm, new, value) if isinstance(value, str) else value
        return out, {}, problems

    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        """Unknown keys (with the closest valid one), wrong types, values d3rlpy refuses."""
        fields = _fields(algorithm)
        problems = []
        serialized: dict[str, Any] = {}
        for key, value in config.items():
            if key == "env_config":
                continue
            if key in OWN_KEYS:
                problem = OWN_KEYS[key].problem(key, value)
                if problem:
                    problems.append(problem)
                continue
            if key not in fields:
                valid = list(fields) + list(OWN_KEYS) + list(COACH_NAMES)
                close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.append(
                    f"Unknown {config_class(algorithm).__name__} setting 'rl.training.config.{key}'.{hint} "
                    f"Valid: {', '.join(sorted(valid))}"
                )
                continue
            default = fields[key]
            if _factory_field(default):
                if not isinstance(value, (str, dict)):
                    problems.append(f"'{key}' must be a type name or {{\"type\": ..., \"params\": {{...}}}}, got {json.dumps(value, default=str)}")
                    continue
                serialized[key] = _to_serialized(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    problems.append(f"'{key}' must be true or false, got {json.dumps(value, default=str)}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, float) and value.is_integer()):
                    problems.append(f"'{key}' must be an integer, got {json.dumps(value, default=str)}")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    problems.append(f"'{key}' must be a number, got {json.dumps(value, default=str)}")
        if problems:
            return problems
        base = config_class(algorithm)().serialize_to_dict()
        for key, value in serialized.items():
            try:
                config_class(algorithm).deserialize_from_dict({**base, key: value})
            except Exception as exc:  # noqa: BLE001 - d3rlpy raises assorted errors for a bad factory
                problems.append(f"'{key}': d3rlpy cannot build {json.dumps(value)} ({type(exc).__name__}: {exc})")
        for key in ("batch_size", "n_critics", "target_update_interval"):
            if key in config and key in fields and isinstance(config[key], (int, float)) and config[key] < 1:
                problems.append(f"'{key}' must be >= 1, got {config[key]}")
        for key in ("gamma",):
            if key in config and isinstance(config[key], (int, float)) and not 0 < config[key] <= 1:
                problems.append(f"'{key}' must be in (0, 1], got {config[key]}")
        for key in [k for k in config if k.endswith("learning_rate")]:
            if isinstance(config[key], (int, float)) and config[key] <= 0:
                problems.append(f"'{key}' must be > 0, got {config[key]}")
        return problems

    def sizes_env_runners(self, algorithm: str) -> bool:
        """Offline training runs no env runners."""
        return False

    def stop_keys(self, algorithm: str) -> Mapping[str, ValueCheck]:
        """Extra ``rl.training.stop.*`` keys this backend understands (beyond the common ones)."""
        return {
            "epochs": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
            "gradient_steps": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        }


def split_config(algorithm: str, config: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Build the d3rlpy config object from a checked configuration; returns (d3rlpy config, rlrt's own settings)."""
    own = {key: check.default for key, check in OWN_KEYS.items()}
    fields = _fields(algorithm)
    d3: dict[str, Any] = {}
    for key, value in config.items():
        if key in OWN_KEYS:
            own[key] = value
        elif key in fields:
            d3[key] = _to_serialized(value) if _factory_field(fields[key]) else value
    if own["hidden_units"]:
        encoder = {"type": "vector", "params": {"hidden_units": list(own["hidden_units"])}}
        for name in fields:
            if name.endswith("encoder_factory") and name not in d3:
                d3[name] = encoder
    cls = config_class(algorithm)
    base = cls().serialize_to_dict()
    base.update(d3)
    return cls.deserialize_from_dict(base), own
