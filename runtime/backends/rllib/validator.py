"""Translating and checking ``rl.training.config.*`` for an RLlib algorithm, from its :class:`Schema`: the full check
(:class:`RLlibValidator`, RLlib's own defaults) and the quick check before RLlib loads
(:func:`runtime.backends.rllib.config_keys.quick_problems`, the stored schema) run this same code.

A problem about a value given under an RLlib 1.x name names the key the user typed, then its 2.x name
(``'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs) must be an integer, got 4.5``): the translation keeps
such a value under the name typed, and the check names it so.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
from typing import Any, Mapping

from runtime.backends.rllib.config import (
    _FORBIDDEN_PREFIXES,
    _MODEL_DICT_KEYS,
    ALGORITHMS,
    BATCH_MODES,
    CUSTOM_MODEL_KEYS,
    FRAMEWORK_KEYS,
    HORIZON_KEY,
    MOVED_TO_MODEL_CONFIG,
    MULTI_AGENT_POLICIES,
    OBSERVATION_FILTERS,
    OLD_NAMES,
    OLD_NESTED,
    OLD_REFUSED,
    OLD_SCHEDULES,
    OWN_KEYS,
    SAC_OPTIMIZATION,
    TENSORFLOW_FRAMEWORKS,
    default_config_dict,
    model_config_fields,
)
from runtime.backends.rllib.exploration import translate_exploration
from runtime.backends.rllib.no_effect import message as no_effect_message
from runtime.backends.rllib.reward_norm import NORMALIZE_REWARDS, normalize_rewards_problem
from runtime.backends.rllib.reward_scale import REWARD_SCALE, reward_scale_problem
from runtime.config.threads import SETTING as THREADS
from runtime.config.threads import SETTING_CHECK as THREADS_CHECK
from runtime.backends.rllib.schema import PREFIX, Schema, as_typed, coerce_number, model_value_problem, value_problem
from runtime.config.hyperparameters import ConfigValidator
from runtime.contracts import library_name
from runtime.offline.sources import is_sampler

log = logging.getLogger(__name__)

OLD_MODEL_DICT = "model."
"""The prefix a setting of RLlib 1.x's ``model`` dict keeps, after translation, while its value has a problem."""


@functools.lru_cache(maxsize=None)
def live_schema(algorithm: str) -> Schema:
    """``algorithm``'s schema from the installed RLlib (imports it)."""
    return Schema.from_defaults(default_config_dict(algorithm), model_config_fields())


def key_problem(algorithm: str, schema: Schema, key: str, value: Any, typed: str | None = None) -> str | None:
    """The problem with ``rl.training.config.<key>`` = ``value`` (a key of RLlib's names, not one of rlrt's own), or
    None; ``typed``: the RLlib 1.x name it was given under (not offered as the closest key)."""
    if key in OLD_REFUSED:
        return f"'{PREFIX}{key}' {OLD_REFUSED[key]}"
    if key not in schema.kinds or key.startswith(_FORBIDDEN_PREFIXES):
        valid = [k for k in schema.kinds if not k.startswith(_FORBIDDEN_PREFIXES)] + list(OWN_KEYS)
        candidates = [k for k in valid + list(OLD_NAMES) + list(OLD_SCHEDULES) if k != typed]
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        hint = f" Did you mean '{PREFIX}{close[0]}'?" if close else ""
        return f"Unknown {algorithm} configuration key '{PREFIX}{key}'.{hint}"
    reason = schema.refusal(key)
    if reason is not None:
        return no_effect_message(key, reason)
    return value_problem(key, value, schema.kinds[key])


def _model_problem(schema: Schema, sub: str, value: Any) -> str | None:
    if sub not in schema.model:
        close = difflib.get_close_matches(sub, list(schema.model), n=1)
        hint = f" Did you mean 'model_config.{close[0]}'?" if close else ""
        return f"Unknown model setting '{PREFIX}model_config.{sub}'.{hint}"
    return model_value_problem(sub, value, schema.model[sub])


def _typed_problem(algorithm: str, schema: Schema, typed: str, value: Any) -> str | None:
    """The problem with a value given under an RLlib 1.x name ``typed``, said of that name, or None."""
    if typed in MOVED_TO_MODEL_CONFIG:
        problem = _model_problem(schema, typed, value)
        return problem and as_typed(problem, f"model_config.{typed}", typed)
    name = OLD_NAMES.get(typed) or OLD_SCHEDULES[typed]
    problem = key_problem(algorithm, schema, name, value, typed)
    return problem and as_typed(problem, name, typed)


def _say_translated(warn: bool, old: str, new: str) -> None:
    """One line for a setting given under its RLlib 1.x name, so that the name the job trains with is not a surprise
    (``num_sgd_iter=5`` trains as ``num_epochs=5``)."""
    if warn:
        log.info("rl.training.config.%s is RLlib 1.x's name: this job trains with RLlib 2.x's %s", old, new)


def translate_config(
    algorithm: str, config: Mapping[str, Any], schema: Schema, warn: bool = True
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """RLlib 1.x names -> 2.x names: (config in 2.x names, env_config additions, problems). A value under a 1.x name
    that its 2.x name would refuse stays under the name typed, for :func:`check_config` to name. ``warn``: log the
    lines about ignored settings (the quick check does not: the full check says them once)."""
    out: dict[str, Any] = {}
    env_config: dict[str, Any] = {}
    model_config: dict[str, Any] = {}
    problems: list[str] = []
    scheduled = {new for old, new in OLD_SCHEDULES.items() if config.get(old) is not None}
    for key, value in config.items():
        if isinstance(value, str) and key != "model_config":
            name = OLD_NAMES.get(key, key)
            value = coerce_number(value, "int" if name == "horizon" else schema.kinds.get(name))
        if key in FRAMEWORK_KEYS:
            if value != FRAMEWORK_KEYS[key] and value not in TENSORFLOW_FRAMEWORKS.get(key, ()):
                problems.append(
                    f"'{key}': rlrt trains with torch on RLlib 2.x's new API stack (framework="
                    f"'torch'); got {json.dumps(value, default=str)}. Remove the key."
                )
            elif value != FRAMEWORK_KEYS[key] and warn:
                log.warning(
                    "rl.training.config.%s=%s: rlrt trains this job with torch (RLlib 2.x's new API "
                    "stack has no TensorFlow); the setting is ignored",
                    key,
                    json.dumps(value),
                )
        elif key == "use_critic":  # RLlib 1.x's switch; 2.x always learns the critic (1.x's default)
            if value is not True:
                problems.append(
                    f"'use_critic': RLlib 2.x's {algorithm} always learns a critic (V-trace / GAE); "
                    f"got {json.dumps(value, default=str)}. Remove the key."
                )
            if warn:
                log.warning("rl.training.config.use_critic: RLlib 2.x's %s always learns a critic; ignored", algorithm)
        elif key == "input" and is_sampler(value):  # RLlib 1.x's default, which a script's full 1.x config carries
            if warn:
                log.warning(
                    "rl.training.config.input=%s is RLlib 1.x's default (sample the environment): ignored",
                    json.dumps(value, default=str),
                )
        elif key == "input_evaluation" and is_sampler(config.get("input", "sampler")):
            if warn:  # with a real 'input' it stays, for the check to name with the 'input' it goes with
                log.warning(
                    "rl.training.config.input_evaluation=%s: RLlib 1.x's off-policy estimates of the "
                    "sampled batches; rlrt's online training reports its own metrics: ignored",
                    json.dumps(value, default=str),
                )
        elif key == "exploration_config" and translate_exploration(algorithm, value) is not None:
            settings, line = translate_exploration(algorithm, value) or ({}, "")
            out.update(settings)
            if warn:
                log.warning("%s", line)
        elif key == "horizon":
            # RLlib 1.x's horizon caps an episode; it never lengthens the environment's own time limit.
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"'horizon' must be an integer >= 1, got {json.dumps(value, default=str)}")
            else:
                env_config[HORIZON_KEY] = value
        elif key == "model":
            if not isinstance(value, dict):
                problems.append(f"'model' must be a JSON object, got {json.dumps(value, default=str)}")
                continue
            for sub, sub_value in value.items():
                if sub in _MODEL_DICT_KEYS:
                    sub_value = coerce_number(sub_value, schema.model.get(sub))
                    if _model_problem(schema, sub, sub_value):  # kept under the name typed, for the check to name
                        out[OLD_MODEL_DICT + sub] = sub_value
                    else:
                        model_config[sub] = sub_value
                elif sub in CUSTOM_MODEL_KEYS:  # decided once the environment is known (action masking)
                    out[sub] = sub_value
                else:
                    problems.append(
                        f"'model.{sub}' has no RLlib 2.x equivalent; use model_config keys: "
                        + ", ".join(sorted(schema.model))
                    )
        elif key in OLD_NESTED:
            setting, inner = OLD_NESTED[key]
            out[setting] = {**(out.get(setting) or {}), inner: value}
            _say_translated(warn, key, f"{setting}.{inner}")
        elif key == "prioritized_replay":
            if not isinstance(value, bool):
                problems.append(f"'prioritized_replay' must be true or false, got {json.dumps(value, default=str)}")
                continue
            kind = "PrioritizedEpisodeReplayBuffer" if value else "EpisodeReplayBuffer"
            out["replay_buffer_config"] = {**(out.get("replay_buffer_config") or {}), "type": kind}
        elif key == "optimization" and isinstance(value, dict) and set(value) <= set(SAC_OPTIMIZATION):
            out.update({SAC_OPTIMIZATION[name]: rate for name, rate in value.items()})
        elif key in MOVED_TO_MODEL_CONFIG:
            value = coerce_number(value, schema.model.get(key))
            if _typed_problem(algorithm, schema, key, value):
                out[key] = value
            else:
                model_config[key] = value
                _say_translated(warn, key, f"model_config.{key}")
        elif key in OLD_SCHEDULES:
            if value is not None and _typed_problem(algorithm, schema, key, value):
                out[key] = value
            elif value is not None:
                out[OLD_SCHEDULES[key]] = value
                _say_translated(warn, key, OLD_SCHEDULES[key])
        elif key in scheduled:
            if warn:
                log.warning("rl.training.config.%s is overridden by its RLlib 1.x schedule", key)
        elif key == "model_config":
            if not isinstance(value, dict):
                problems.append(f"'model_config' must be a JSON object, got {json.dumps(value, default=str)}")
            else:
                model_config.update({k: coerce_number(v, schema.model.get(k)) for k, v in value.items()})
        elif key in OLD_NAMES and _typed_problem(algorithm, schema, key, value):
            out[key] = value
        else:
            name = OLD_NAMES.get(key, key)
            merge = isinstance(value, dict) and isinstance(out.get(name), dict)  # with a translated 1.x key
            out[name] = {**out[name], **value} if merge else value
            if name != key:
                _say_translated(warn, key, name)
    if model_config:
        out["model_config"] = model_config
    return out, env_config, problems


def _own_key_problem(algorithm: str, key: str, value: Any) -> str | None:
    """The problem with one of the keys the check decides itself (rlrt's own and RLlib 1.x's data keys)."""
    name = PREFIX + key
    if key == "observation_filter" and value not in OBSERVATION_FILTERS:
        return f"'{name}' must be one of {', '.join(OBSERVATION_FILTERS)}, got {value!r}"
    if key == REWARD_SCALE:
        return reward_scale_problem(name, value)
    if key == NORMALIZE_REWARDS:
        return normalize_rewards_problem(name, value)
    if key == THREADS:
        return THREADS_CHECK.problem(name, value)
    if key == "batch_mode" and value not in BATCH_MODES:
        return f"'{name}' must be one of {', '.join(BATCH_MODES)}, got {json.dumps(value, default=str)}"
    if key == "multi_agent_policies" and value not in MULTI_AGENT_POLICIES:
        return f"'{name}' must be one of {', '.join(MULTI_AGENT_POLICIES)}, got {value!r}"
    if key == "input":
        return (
            f"'{name}' (RLlib 1.x: train from logged experiences) needs an offline algorithm; {algorithm} "
            "trains online. Train on the data with rl.training.run=DiscreteBCQ or DiscreteCQL (discrete "
            "actions), BCQ, CQL or BC (continuous), d3rlpy's, which read the folder 'input' names (the "
            "rollout format of `rlrt collect` and of an online job's 'output')."
        )
    if key == "custom_model" and (not isinstance(value, str) or not value):
        return f"'{PREFIX}model.custom_model' must be the name of a model, got {json.dumps(value, default=str)}"
    if key == "custom_model_config" and not isinstance(value, dict):
        return f"'{PREFIX}model.custom_model_config' must be a JSON object, got {json.dumps(value, default=str)}"
    if key == "output" and (not isinstance(value, str) or not value.strip()):
        return (
            f"'{name}' must be a folder to write the episodes to (or \"logdir\": the job's "
            f"output/intermediate), got {json.dumps(value, default=str)}"
        )
    return None


_OWN_CHECKED = (
    "observation_filter",
    "batch_mode",
    "multi_agent_policies",
    "input",
    "output",
    REWARD_SCALE,
    NORMALIZE_REWARDS,
    THREADS,
) + CUSTOM_MODEL_KEYS


def check_config(algorithm: str, schema: Schema, config: Mapping[str, Any]) -> list[str]:
    """The problems with ``config`` (translated by :func:`translate_config`): unknown keys, refused keys, wrong
    types and ranges."""
    problems = []
    for key, value in config.items():
        if key in OLD_NAMES or key in OLD_SCHEDULES or key in MOVED_TO_MODEL_CONFIG:
            problem = _typed_problem(algorithm, schema, key, value)  # kept under the name typed: it has a problem
            if problem:
                problems.append(problem)
                continue
        if key.startswith(OLD_MODEL_DICT) and key[len(OLD_MODEL_DICT) :] in _MODEL_DICT_KEYS:
            sub = key[len(OLD_MODEL_DICT) :]
            problem = _model_problem(schema, sub, value)
            problems += [as_typed(problem, f"model_config.{sub}", key)] if problem else []
        elif key == "model_config":
            problems += [p for p in (_model_problem(schema, sub, v) for sub, v in value.items()) if p]
        elif key in _OWN_CHECKED:
            problem = _own_key_problem(algorithm, key, value)
            if problem:
                problems.append(problem)
        else:
            problem = key_problem(algorithm, schema, key, value)
            if problem:
                problems.append(problem)
    return problems


class RLlibValidator(ConfigValidator):
    """Translates and checks ``rl.training.config.*`` for an RLlib algorithm (see runtime.config.hyperparameters)."""

    def algorithm_name(self, algorithm: str) -> str:
        """RLlib's spelling (``ppo`` -> ``PPO``, ``dreamerv3`` -> ``DreamerV3``); another name as given."""
        return library_name(algorithm, ALGORITHMS) or algorithm.strip()

    def sizes_env_runners(self, algorithm: str) -> bool:
        return True

    def translate(self, algorithm: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        return translate_config(algorithm, config, live_schema(algorithm))

    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        return check_config(algorithm, live_schema(algorithm), config)
