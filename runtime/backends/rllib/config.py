"""RLlib (2.x, new API stack): configuration names, validation, and building an algorithm from a TrainingSpec."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import logging
from types import MappingProxyType
from typing import Any, Mapping

from runtime.backends.rllib.no_effect import message as no_effect_message
from runtime.backends.rllib.no_effect import refusal
from runtime.config.hyperparameters import ConfigValidator
from runtime.config.values import ValueCheck, coerce_value
from runtime.errors import UserError

log = logging.getLogger(__name__)

# The seeds' (RLlib 0.8 - 1.x) names -> RLlib 2.x names.
OLD_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "num_sgd_iter": "num_epochs",
        "sgd_minibatch_size": "minibatch_size",
        "num_workers": "num_env_runners",
        "num_rollout_workers": "num_env_runners",
        "num_envs_per_worker": "num_envs_per_env_runner",
        "num_cpus_per_worker": "num_cpus_per_env_runner",
        "num_gpus_per_worker": "num_gpus_per_env_runner",
        "train_batch_size": "train_batch_size_per_learner",
        "sample_batch_size": "rollout_fragment_length",
        "num_gpus": "num_gpus_per_learner",
        "num_cpus_for_driver": "num_cpus_for_main_process",
        "lambda_": "lambda",
        # RLlib 1.x's fault tolerance (rollout workers are env runners in 2.x).
        "ignore_worker_failures": "ignore_env_runner_failures",
        "recreate_failed_workers": "restart_failed_env_runners",
        "max_num_worker_restarts": "max_num_env_runner_restarts",
        "delay_between_worker_restarts_s": "delay_between_env_runner_restarts_s",
        "num_consecutive_worker_failures_tolerance": "num_consecutive_env_runner_failures_tolerance",
        "worker_health_probe_timeout_s": "env_runner_health_probe_timeout_s",
        "worker_restore_timeout_s": "env_runner_restore_timeout_s",
        "evaluation_num_workers": "evaluation_num_env_runners",
        # RLlib 1.x's DQN / Ape-X / SAC iteration and warm-up settings.
        "timesteps_per_iteration": "min_sample_timesteps_per_iteration",
        "min_iter_time_s": "min_time_s_per_iteration",
        "learning_starts": "num_steps_sampled_before_learning_starts",
        # RLlib 1.x's APPO / IMPALA names.
        "max_sample_requests_in_flight_per_worker": "max_requests_in_flight_per_env_runner",
        "target_update_frequency": "target_network_update_freq",
    }
)
# RLlib 1.x settings that moved into a dict of RLlib 2.x: old name -> (2.x setting, its key).
OLD_NESTED: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "buffer_size": ("replay_buffer_config", "capacity"),
        "prioritized_replay_alpha": ("replay_buffer_config", "alpha"),
        "prioritized_replay_beta": ("replay_buffer_config", "beta"),
    }
)
# SAC's RLlib 1.x "optimization" dict -> RLlib 2.x settings.
SAC_OPTIMIZATION: Mapping[str, str] = MappingProxyType(
    {"actor_learning_rate": "actor_lr", "critic_learning_rate": "critic_lr", "entropy_learning_rate": "alpha_lr"})
# RLlib 1.x's schedules, which RLlib 2.x takes as the setting itself (a schedule overrides a fixed value, as in 1.x).
OLD_SCHEDULES: Mapping[str, str] = MappingProxyType({"lr_schedule": "lr", "entropy_coeff_schedule": "entropy_coeff"})
# Settings that take a number or a piecewise-linear schedule [[timestep, value], ...] starting at timestep 0.
SCHEDULABLE = ("lr", "entropy_coeff")
# Old names whose meaning moved into another structure.
MOVED_TO_MODEL_CONFIG = ("vf_share_layers", "free_log_std", "fcnet_hiddens", "fcnet_activation")
# RLlib 1.x's framework keys: the value rlrt trains with is accepted (it is what happens); any other is refused.
FRAMEWORK_KEYS: Mapping[str, Any] = MappingProxyType({"framework": "torch", "use_pytorch": True, "eager": False})
# The TensorFlow values SageMaker RL's images trained with: rlrt trains torch instead and says so in one line.
TENSORFLOW_FRAMEWORKS: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {"framework": ("tf", "tf2", "tfe"), "use_pytorch": (False,), "eager": (True,)})
HORIZON_KEY = "episode_step_cap"
"""The env_config key RLlib 1.x's ``horizon`` becomes: it caps an episode (envs.registry.make_env), never lengthens
the environment's own time limit (RLlib 1.x's ``horizon`` did neither: the env's TimeLimit still ended episodes)."""
BATCH_MODES = ("truncate_episodes", "complete_episodes")
# Our own keys, handled before RLlib sees the configuration.
OWN_KEYS = ("observation_filter", "model_config", "multi_agent_policies")
OBSERVATION_FILTERS = ("NoFilter", "MeanStdFilter")
# Multi-agent environments: one policy per agent group (a Unity behavior), or one policy shared by every agent.
MULTI_AGENT_POLICIES = ("per_group", "shared")
SHARED_POLICY = "shared"
# Internal or non-serialisable settings a hyperparameter may not set.
_FORBIDDEN_PREFIXES = ("_", "callbacks", "env_runner_cls", "policies", "policy_mapping_fn", "class")

# Model settings of rlrt's own, beside DefaultModelConfig's (name -> default): the initial log standard deviation of
# a Gaussian policy (RL Zoo's ``log_std_init``; RLlib starts it at 0), applied by algorithm.initial_log_std.
OWN_MODEL_SETTINGS: Mapping[str, Any] = MappingProxyType({"log_std_init": 0.0})

# Which RLlib model settings the old-stack "model" dict may carry into model_config.
_MODEL_DICT_KEYS = ("fcnet_hiddens", "fcnet_activation", "vf_share_layers", "free_log_std", "use_lstm",
                    "max_seq_len", "lstm_cell_size", "conv_filters", "conv_activation")


@functools.lru_cache(maxsize=None)
def algorithm_config_class(algorithm: str) -> type:
    """The AlgorithmConfig subclass for ``algorithm`` (e.g. PPO -> PPOConfig); UserError if RLlib has none."""
    from ray.rllib.algorithms.registry import ALGORITHMS  # heavy: Ray and RLlib (~4 s)

    names = {name.upper(): name for name in ALGORITHMS}
    name = names.get(algorithm.upper())
    if name is None:
        close = difflib.get_close_matches(algorithm.upper(), list(names), n=1)
        hint = f" Did you mean '{names[close[0]]}'?" if close else ""
        raise UserError(f"Unknown RLlib algorithm '{algorithm}'.{hint} RLlib has: {', '.join(sorted(ALGORITHMS))}.")
    algorithm_class, default_config = ALGORITHMS[name]()
    return default_config.__class__


@functools.lru_cache(maxsize=None)
def default_config_dict(algorithm: str) -> Mapping[str, Any]:
    """RLlib's defaults for ``algorithm``, keyed by the names ``update_from_dict`` accepts.

    Settings RLlib stores privately behind a public property (``_train_batch_size_per_learner``) appear under
    their public name.
    """
    config_class = algorithm_config_class(algorithm)
    defaults = config_class().to_dict()
    for key in [k for k in defaults if k.startswith("_")]:
        if isinstance(getattr(config_class, key[1:], None), property):
            defaults[key[1:]] = defaults[key]
    return MappingProxyType(defaults)


@functools.lru_cache(maxsize=None)
def model_config_fields() -> Mapping[str, Any]:
    """The model settings ``model_config`` takes and their defaults: DefaultModelConfig's fields and rlrt's own."""
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig  # heavy: Ray and RLlib (~4 s)

    fields = {f.name: getattr(DefaultModelConfig(), f.name) for f in dataclasses.fields(DefaultModelConfig)}
    return MappingProxyType({**fields, **OWN_MODEL_SETTINGS})


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


def _schedule_problem(key: str, value: Any, meaning: str) -> str | None:
    """Check a piecewise-linear schedule ``[[timestep, value], ...]`` (RLlib's Scheduler format)."""
    shown = json.dumps(value, default=str)
    expected = f"'{key}' must be {meaning} or a schedule [[0, value], [timestep, value], ...], got {shown}"
    if not isinstance(value, (list, tuple)) or not value:
        return expected
    steps = []
    for point in value:
        if (not isinstance(point, (list, tuple)) or len(point) != 2
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in point)):
            return expected
        if not point[1] >= 0 or not (isinstance(point[0], int) or point[0].is_integer()):
            return f"'{key}' schedule points must be [integer timestep, value >= 0], got {json.dumps(point)}"
        steps.append(point[0])
    if steps[0] != 0:
        return f"'{key}' schedule must start at timestep 0, got {shown}"
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return f"'{key}' schedule timesteps must increase, got {shown}"
    return None


def _type_problem(key: str, value: Any, default: Any) -> str | None:
    """Check ``value`` against the type of RLlib's default for ``key``."""
    if default is None or callable(default) and not isinstance(default, (int, float, str, list, dict)):
        return None
    shown = json.dumps(value, default=str)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return f"'{key}' must be true or false, got {shown}"
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return None
            return f"'{key}' must be an integer, got {shown}"
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"'{key}' must be a number, got {shown}"
    elif isinstance(default, str):
        if not isinstance(value, str):
            return f"'{key}' must be a string, got {shown}"
    elif isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return f"'{key}' must be a list, got {shown}"
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            return f"'{key}' must be a JSON object, got {shown}"
    return None


def _in_range(predicate: Any, meaning: str) -> ValueCheck:
    """A range check of a number (int or float: the type is checked against RLlib's default by _type_problem)."""
    return ValueCheck((int, float), predicate, meaning)


# Range checks for the keys users tune most; RLlib checks the rest when it builds.
_RANGES: Mapping[str, ValueCheck] = MappingProxyType(
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
    }
)
# The same for model settings (``model_config.<key>``). RLlib clips log standard deviations at +-20.
_MODEL_RANGES: Mapping[str, ValueCheck] = MappingProxyType(
    {"log_std_init": _in_range(lambda v: -20 <= v <= 20,
                               "a number in [-20, 20] (the log of the initial standard deviation)")}
)


def _range_problem(name: str, value: Any, ranges: Mapping[str, ValueCheck], key: str) -> str | None:
    """Check a number against ``ranges[key]``, when there is one (a value that is no number has a type problem)."""
    if key not in ranges or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return ranges[key].problem(name, value)


def _coerce_config_number(key: str, value: Any, defaults: Mapping[str, Any]) -> Any:
    """A string that spells the number ``key`` takes (its RLlib default is an int or a float), as that number."""
    default = 1 if key == "horizon" else _AUTO_OR_NUMBER.get(key, defaults.get(key))
    default = _TYPE_OF_NONE_DEFAULTS.get(key) if default is None else default
    if not isinstance(value, str) or isinstance(default, bool) or not isinstance(default, (int, float)):
        return value
    return coerce_value(value, (int,) if isinstance(default, int) else (int, float))


class RLlibValidator(ConfigValidator):
    """Translates and checks ``rl.training.config.*`` for an RLlib algorithm (see runtime.config.hyperparameters)."""

    def sizes_env_runners(self, algorithm: str) -> bool:
        return True

    def translate(
        self, algorithm: str, config: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        out: dict[str, Any] = {}
        env_config: dict[str, Any] = {}
        model_config: dict[str, Any] = {}
        problems: list[str] = []
        scheduled = {new for old, new in OLD_SCHEDULES.items() if config.get(old) is not None}
        defaults = default_config_dict(algorithm)
        for key, value in config.items():
            if isinstance(value, str) and key != "model_config":
                value = _coerce_config_number(OLD_NAMES.get(key, key), value, defaults)
            if key in FRAMEWORK_KEYS:
                if value != FRAMEWORK_KEYS[key] and value not in TENSORFLOW_FRAMEWORKS.get(key, ()):
                    problems.append(f"'{key}': rlrt trains with torch on RLlib 2.x's new API stack (framework="
                                    f"'torch'); got {json.dumps(value, default=str)}. Remove the key.")
                elif value != FRAMEWORK_KEYS[key]:
                    log.warning("rl.training.config.%s=%s: rlrt trains this job with torch (RLlib 2.x's new API "
                                "stack has no TensorFlow); the setting is ignored", key, json.dumps(value))
            elif key == "use_critic":  # RLlib 1.x's switch; 2.x always learns the critic (1.x's default)
                if value is not True:
                    problems.append(f"'use_critic': RLlib 2.x's {algorithm} always learns a critic (V-trace / GAE); "
                                    f"got {json.dumps(value, default=str)}. Remove the key.")
                log.warning("rl.training.config.use_critic: RLlib 2.x's %s always learns a critic; ignored", algorithm)
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
                        model_config[sub] = _coerce_config_number(sub, sub_value, model_config_fields())
                    else:
                        problems.append(
                            f"'model.{sub}' has no RLlib 2.x equivalent; use model_config keys: "
                            + ", ".join(sorted(model_config_fields()))
                        )
            elif key in OLD_NESTED:
                setting, inner = OLD_NESTED[key]
                out[setting] = {**(out.get(setting) or {}), inner: value}
            elif key == "prioritized_replay":
                if not isinstance(value, bool):
                    problems.append(f"'prioritized_replay' must be true or false, got {json.dumps(value, default=str)}")
                    continue
                kind = "PrioritizedEpisodeReplayBuffer" if value else "EpisodeReplayBuffer"
                out["replay_buffer_config"] = {**(out.get("replay_buffer_config") or {}), "type": kind}
            elif key == "optimization" and isinstance(value, dict) and set(value) <= set(SAC_OPTIMIZATION):
                out.update({SAC_OPTIMIZATION[name]: rate for name, rate in value.items()})
            elif key in MOVED_TO_MODEL_CONFIG:
                model_config[key] = _coerce_config_number(key, value, model_config_fields())
            elif key in OLD_SCHEDULES:
                if value is not None:
                    out[OLD_SCHEDULES[key]] = value
            elif key in scheduled:
                log.warning("rl.training.config.%s is overridden by its RLlib 1.x schedule", key)
            elif key == "model_config":
                if not isinstance(value, dict):
                    problems.append(f"'model_config' must be a JSON object, got {json.dumps(value, default=str)}")
                else:
                    fields = model_config_fields()
                    model_config.update({k: _coerce_config_number(k, v, fields) for k, v in value.items()})
            else:
                name = OLD_NAMES.get(key, key)
                merge = isinstance(value, dict) and isinstance(out.get(name), dict)  # with a translated 1.x key
                out[name] = {**out[name], **value} if merge else value
        if model_config:
            out["model_config"] = model_config
        return out, env_config, problems

    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        defaults = default_config_dict(algorithm)
        valid = [k for k in defaults if not k.startswith(_FORBIDDEN_PREFIXES)] + list(OWN_KEYS)
        problems = []
        for key, value in config.items():
            name = f"rl.training.config.{key}"
            if key == "model_config":
                fields = model_config_fields()
                for sub, sub_value in value.items():
                    if sub not in fields:
                        close = difflib.get_close_matches(sub, list(fields), n=1)
                        hint = f" Did you mean 'model_config.{close[0]}'?" if close else ""
                        problems.append(f"Unknown model setting 'rl.training.config.model_config.{sub}'.{hint}")
                    else:
                        problem = (_type_problem(f"{name}.{sub}", sub_value, fields[sub])
                                   or _range_problem(f"{name}.{sub}", sub_value, _MODEL_RANGES, sub))
                        if problem:
                            problems.append(problem)
                continue
            if key == "observation_filter":
                if value not in OBSERVATION_FILTERS:
                    problems.append(f"'{name}' must be one of {', '.join(OBSERVATION_FILTERS)}, got {value!r}")
                continue
            if key == "batch_mode":
                if value not in BATCH_MODES:
                    problems.append(f"'{name}' must be one of {', '.join(BATCH_MODES)}, got "
                                    f"{json.dumps(value, default=str)}")
                continue
            if key == "multi_agent_policies":
                if value not in MULTI_AGENT_POLICIES:
                    problems.append(f"'{name}' must be one of {', '.join(MULTI_AGENT_POLICIES)}, got {value!r}")
                continue
            if key == "input":
                problems.append(
                    f"'{name}' (RLlib 1.x: train from logged experiences) needs an offline algorithm; {algorithm} "
                    "trains online. Train on the data with rl.training.run=DiscreteBCQ or DiscreteCQL (discrete "
                    "actions), BCQ, CQL or BC (continuous), d3rlpy's, which read the folder 'input' names (the "
                    "rollout format of `rlrt collect` and of an online job's 'output').")
                continue
            if key == "output":
                if not isinstance(value, str) or not value.strip():
                    problems.append(f"'{name}' must be a folder to write the episodes to (or \"logdir\": the job's "
                                    f"output/intermediate), got {json.dumps(value, default=str)}")
                continue
            if key not in defaults or key.startswith(_FORBIDDEN_PREFIXES):
                candidates = valid + list(OLD_NAMES) + list(OLD_SCHEDULES)
                close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
                hint = f" Did you mean 'rl.training.config.{close[0]}'?" if close else ""
                problems.append(f"Unknown {algorithm} configuration key '{name}'.{hint}")
                continue
            reason = refusal(key, defaults[key])
            if reason is not None:
                problems.append(no_effect_message(key, reason))
                continue
            if key in _AUTO_OR_NUMBER and value == "auto":
                continue
            if key in SCHEDULABLE and isinstance(value, (list, tuple)):
                problem = _schedule_problem(name, value, _RANGES[key].meaning if key in _RANGES else "a number")
                if problem:
                    problems.append(problem)
                continue
            default = defaults[key] if defaults[key] is not None else _TYPE_OF_NONE_DEFAULTS.get(key)
            default = _AUTO_OR_NUMBER.get(key, default)
            problem = _type_problem(name, value, default) or _range_problem(name, value, _RANGES, key)
            if problem:
                problems.append(problem)
        return problems
