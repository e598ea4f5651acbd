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
import functools
import importlib
import json
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from runtime.backends.d3rlpy.library import import_d3rlpy
from runtime.config.hyperparameters import ConfigValidator
from runtime.config.threads import SETTING, SETTING_CHECK
from runtime.config.values import ValueCheck, coerce_value
from runtime.errors import UserError
from runtime.offline.sources import input_problem

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
ALIASES: Mapping[str, str] = MappingProxyType(
    {"DDQN_BCQ": "DiscreteBCQ", "DDQNBCQ": "DiscreteBCQ", "D3RLPY_BCQ": "BCQ"}
)

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


class InputCheck(ValueCheck):
    """``input`` (RLlib 1.x's): a path or glob pattern of logged rollouts, a list of them, or a dict of them (the
    weights ignored); the problem is :func:`runtime.offline.sources.input_problem`'s (``"sampler"`` refused)."""

    def problem(self, key: str, value: Any) -> str | None:
        """The problem with ``value``'s form (nothing on disk is looked at), or None."""
        return input_problem(value)


# rlrt's own keys, with their defaults
OWN_KEYS: Mapping[str, ValueCheck] = MappingProxyType(
    {
        "n_steps_per_epoch": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1 (gradient steps per epoch)", 1000),
        "hidden_units": ValueCheck(
            (list,),
            lambda v: bool(v) and all(isinstance(u, int) and u > 0 for u in v),
            "a list of layer sizes such as [256, 256]",
            None,
        ),
        "evaluation_episodes": ValueCheck(
            (int,), lambda v: v >= 0, "an integer >= 0 (env episodes evaluated each epoch)", 0
        ),
        "ope_temperature": ValueCheck(
            (int, float), lambda v: v > 0, "a number > 0 (softmax temperature of the OPE target policy)", 1.0
        ),
        "fqe_steps": ValueCheck(
            (int,), lambda v: v >= 0, "an integer >= 0 (FQE gradient steps each epoch; 0: FQE off)", 0
        ),
        "time_limit": ValueCheck(
            (int,), lambda v: v >= 1, "an integer >= 1 (episodes this long ended by a time limit)", None
        ),
        "select_by": ValueCheck((str,), lambda v: v in SELECTORS, "one of " + ", ".join(SELECTORS), "last"),
        SETTING: SETTING_CHECK,  # None: the job's rule (runtime.config.threads)
        "input": InputCheck(
            (str, list, dict),
            lambda v: input_problem(v) is None,
            "a .csv/.parquet/.json file, folder or glob pattern of logged rollouts, or a list of them "
            "(RLlib 1.x's input)",
            None,
        ),
    }
)


ONLINE_ONLY: Mapping[str, str] = MappingProxyType(
    {
        "normalize_rewards": "'rl.training.config.normalize_rewards' normalises the rewards of the environments an "
        "online job steps (the RLlib backend's env runners); d3rlpy trains on logged rewards, which no environment "
        'hands it: scale them with reward_scaler (e.g. "standard") instead.',
    }
)
"""The RLlib backend's own keys that mean nothing for logged data, each refused with why and what to use."""


def canonical_algorithm(name: str) -> str | None:
    """The d3rlpy algorithm ``name`` stands for, or None when it is not an offline algorithm."""
    lowered = {k.lower(): k for k in ALGORITHMS}
    lowered.update({k.lower(): v for k, v in ALIASES.items()})
    return lowered.get(name.strip().lower())


def is_offline_algorithm(name: str) -> bool:
    """Whether ``name`` (an ``algorithm`` of a preset or ``rl.training.run``) trains with d3rlpy from logged data."""
    return canonical_algorithm(name) is not None


def config_class(algorithm: str) -> type[Any]:
    """The d3rlpy config dataclass of ``algorithm`` (``type[Any]``: d3rlpy ships no type information)."""
    name = canonical_algorithm(algorithm)
    if name is None:
        raise UserError(f"'{algorithm}' is not an offline algorithm; offline algorithms: {', '.join(ALGORITHMS)}.")
    import_d3rlpy()
    module, cls = ALGORITHMS[name][0].split(":")
    config: type[Any] = getattr(importlib.import_module(module), cls)
    return config


def is_discrete(algorithm: str) -> bool:
    name = canonical_algorithm(algorithm)
    return bool(name and ALGORITHMS[name][1])


def _fields(algorithm: str) -> dict[str, Any]:
    cls = config_class(algorithm)
    defaults = cls()
    return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(cls)}


def kind_of(default: Any) -> str:
    """The kind of value a d3rlpy config field takes, from its ``default``: ``"factory"`` (None or a d3rlpy
    ``DynamicConfig``: a type name or ``{"type": ..., "params": {...}}``), ``"bool"``, ``"int"``, ``"float"``, or
    ``"other"`` (not checked)."""
    from d3rlpy.serializable_config import DynamicConfig  # heavy: d3rlpy (offline jobs only)

    if default is None or isinstance(default, DynamicConfig):
        return "factory"
    for kind, cls in (("bool", bool), ("int", int), ("float", float)):
        if isinstance(default, cls):
            return kind
    return "other"


@dataclass(frozen=True)
class Schema:
    """One algorithm's d3rlpy configuration as data: its config class's name and each field's kind
    (:func:`kind_of`), from the installed d3rlpy (:func:`live_schema`) or from ``config_keys.json``
    (:func:`runtime.backends.d3rlpy.config_keys.stored_schema`); both checks run on it, so they say the same words."""

    class_name: str
    kinds: Mapping[str, str]


@functools.lru_cache(maxsize=None)
def _live_schema(name: str) -> Schema:
    fields = _fields(name)
    return Schema(config_class(name).__name__, MappingProxyType({key: kind_of(value) for key, value in fields.items()}))


def live_schema(algorithm: str) -> Schema:
    """``algorithm``'s schema from the installed d3rlpy (imports it)."""
    return _live_schema(canonical_algorithm(algorithm) or algorithm)


def _to_serialized(value: Any) -> Any:
    """A factory value as d3rlpy's ``{"type", "params"}`` dict (a bare type name allowed)."""
    if isinstance(value, str):
        return {"type": value, "params": {}}
    return value


def _coerce_field_number(schema: Schema, key: str, value: str) -> Any:
    """A string that spells the number ``key`` (an rlrt key or a field of the d3rlpy config) takes, as that number
    (SageMaker's algorithms accept ``"64"``)."""
    if key in OWN_KEYS:
        return OWN_KEYS[key].coerce(value)
    kind = schema.kinds.get(key)
    if kind not in ("int", "float"):
        return value
    return coerce_value(value, (int,) if kind == "int" else (int, float))


def translate_config(schema: Schema, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Coach names -> d3rlpy names, numbers given as strings -> numbers; no env_config additions."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in config.items():
        new = COACH_NAMES.get(key, key)
        if new != key and new in config:  # in either order (the hyperparameters come sorted: discount < gamma)
            problems.append(f"'{key}' and '{new}' both given; give only '{new}'")
        out[new] = _coerce_field_number(schema, new, value) if isinstance(value, str) else value
    return out, {}, problems


def _type_problem(schema: Schema, key: str, value: Any) -> str | None:
    """The problem with ``value`` of ``key`` (an rlrt key or any other) for the kind of value it takes, or None."""
    if key in OWN_KEYS:
        return OWN_KEYS[key].problem(key, value)
    if key in ONLINE_ONLY:
        return ONLINE_ONLY[key]
    if key not in schema.kinds:
        valid = list(schema.kinds) + list(OWN_KEYS) + list(COACH_NAMES)
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"Unknown {schema.class_name} setting 'rl.training.config.{key}'.{hint} Valid: {', '.join(sorted(valid))}"
        )
    kind, shown = schema.kinds[key], json.dumps(value, default=str)
    if kind == "factory" and not isinstance(value, (str, dict)):
        return f'\'{key}\' must be a type name or {{"type": ..., "params": {{...}}}}, got {shown}'
    if kind == "bool" and not isinstance(value, bool):
        return f"'{key}' must be true or false, got {shown}"
    if kind == "int" and (
        isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, float) and value.is_integer())
    ):
        return f"'{key}' must be an integer, got {shown}"
    if kind == "float" and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or isinstance(value, float)
        and not math.isfinite(value)
    ):
        return f"'{key}' must be a number, got {shown}"
    return None


RANGES: Mapping[str, ValueCheck] = MappingProxyType(
    {
        "batch_size": ValueCheck((int, float), lambda v: v >= 1, ">= 1"),
        "n_critics": ValueCheck((int, float), lambda v: v >= 1, ">= 1"),
        "target_update_interval": ValueCheck((int, float), lambda v: v >= 1, ">= 1"),
        "gamma": ValueCheck((int, float), lambda v: 0 < v <= 1, "in (0, 1]"),
    }
)
"""The ranges of the fields users tune most (d3rlpy checks none of them); every ``*learning_rate`` field has
:data:`LEARNING_RATE`'s. Data, so that the reference page (scripts/reference_docs.py) prints them as they are."""
LEARNING_RATE = ValueCheck((int, float), lambda v: v > 0, "> 0")


def range_check(key: str) -> ValueCheck | None:
    """The range a d3rlpy config field is held to, or None."""
    return RANGES.get(key) or (LEARNING_RATE if key.endswith("learning_rate") else None)


def _range_problems(config: Mapping[str, Any]) -> list[str]:
    """The values outside their field's range: the fields of :data:`RANGES` first, then the learning rates."""
    keys = [key for key in RANGES if key in config]
    keys += [key for key in config if key not in RANGES and key.endswith("learning_rate")]
    problems = []
    for key in keys:
        check, value = range_check(key), config[key]
        if check is not None and isinstance(value, check.types) and not check.predicate(value):
            problems.append(f"'{key}' must be {check.meaning}, got {value}")
    return problems


def _factory_problems(algorithm: str, serialized: Mapping[str, Any]) -> list[str]:
    """The factory values d3rlpy cannot build (imports it)."""
    cls = config_class(algorithm)
    base = cls().serialize_to_dict()
    problems = []
    for key, value in serialized.items():
        try:
            cls.deserialize_from_dict({**base, key: value})
        except Exception as exc:  # noqa: BLE001 - d3rlpy raises assorted errors for a bad factory
            problems.append(f"'{key}': d3rlpy cannot build {json.dumps(value)} ({type(exc).__name__}: {exc})")
    return problems


def check_config(
    schema: Schema, config: Mapping[str, Any], factories: Callable[[Mapping[str, Any]], list[str]] | None = None
) -> list[str]:
    """Unknown keys (with the closest valid one) and wrong types; when there are none, the factory values
    ``factories`` cannot build (the full check: d3rlpy builds them; the quick check has none) and the ranges."""
    problems = []
    serialized: dict[str, Any] = {}
    for key, value in config.items():
        if key == "env_config":
            continue
        problem = _type_problem(schema, key, value)
        if problem:
            problems.append(problem)
        elif key not in OWN_KEYS and schema.kinds[key] == "factory":
            serialized[key] = _to_serialized(value)
    if problems:
        return problems
    if factories is not None and serialized:
        problems += factories(serialized)
    return problems + _range_problems(config)


class D3rlpyValidator(ConfigValidator):
    """Checks ``rl.training.config.*`` for a d3rlpy algorithm (the ``ConfigValidator`` protocol), on the installed
    d3rlpy's schema (the quick check runs the same code on the stored one)."""

    def translate(self, algorithm: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """Coach names -> d3rlpy names; no env_config additions."""
        return translate_config(live_schema(algorithm), config)

    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        """Unknown keys (with the closest valid one), wrong types, values d3rlpy refuses."""
        return check_config(live_schema(algorithm), config, functools.partial(_factory_problems, algorithm))

    def algorithm_name(self, algorithm: str) -> str:
        """d3rlpy's name (``discretebcq`` and Coach's ``DDQN_BCQ`` -> ``DiscreteBCQ``); another name as given."""
        return canonical_algorithm(algorithm) or algorithm.strip()

    def environment_settings(self, algorithm: str) -> frozenset[str]:
        """rlrt's own keys but the network's: the data (``input``), its episodes' time limit, the epoch's length and
        how epochs are evaluated and selected, which hold for any algorithm trained on the same data."""
        return frozenset(OWN_KEYS) - {"hidden_units"}

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
    kinds = live_schema(algorithm).kinds
    d3: dict[str, Any] = {}
    for key, value in config.items():
        if key in OWN_KEYS:
            own[key] = value
        elif key in kinds:
            d3[key] = _to_serialized(value) if kinds[key] == "factory" else value
    if own["hidden_units"]:
        encoder = {"type": "vector", "params": {"hidden_units": list(own["hidden_units"])}}
        for name in kinds:
            if name.endswith("encoder_factory") and name not in d3:
                d3[name] = encoder
    cls = config_class(algorithm)
    base = cls().serialize_to_dict()
    base.update(d3)
    return cls.deserialize_from_dict(base), own
