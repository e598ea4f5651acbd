"""RLlib (2.x, new API stack): configuration names (RLlib 1.x -> 2.x) and RLlib's own defaults per algorithm (its
AlgorithmConfig, DefaultModelConfig). Translating and checking a configuration:
:mod:`runtime.backends.rllib.validator`."""

from __future__ import annotations

import dataclasses
import difflib
import functools
from types import MappingProxyType
from typing import Any, Mapping

from runtime.backends.rllib.schema import _TYPE_OF_NONE_DEFAULTS  # noqa: F401 - re-exported
from runtime.errors import UserError

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
    {"actor_learning_rate": "actor_lr", "critic_learning_rate": "critic_lr", "entropy_learning_rate": "alpha_lr"}
)
# RLlib 1.x's schedules, which RLlib 2.x takes as the setting itself (a schedule overrides a fixed value, as in 1.x).
OLD_SCHEDULES: Mapping[str, str] = MappingProxyType({"lr_schedule": "lr", "entropy_coeff_schedule": "entropy_coeff"})
# Old names whose meaning moved into another structure.
MOVED_TO_MODEL_CONFIG = ("vf_share_layers", "free_log_std", "fcnet_hiddens", "fcnet_activation")
# RLlib 1.x's framework keys: the value rlrt trains with is accepted (it is what happens); any other is refused.
FRAMEWORK_KEYS: Mapping[str, Any] = MappingProxyType({"framework": "torch", "use_pytorch": True, "eager": False})
# The TensorFlow values SageMaker RL's images trained with: rlrt trains torch instead and says so in one line.
TENSORFLOW_FRAMEWORKS: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {"framework": ("tf", "tf2", "tfe"), "use_pytorch": (False,), "eager": (True,)}
)
HORIZON_KEY = "episode_step_cap"
"""The env_config key RLlib 1.x's ``horizon`` becomes: it caps an episode (envs.registry.make_env), never lengthens
the environment's own time limit (RLlib 1.x's ``horizon`` did neither: the env's TimeLimit still ended episodes)."""
BATCH_MODES = ("truncate_episodes", "complete_episodes")
# RLlib 1.x's custom model of the old "model" dict, kept (under these names) until the environment is known: on
# observations that carry an action_mask (the examples' "action_mask" model) RLlib's masking module replaces it;
# anywhere else it is refused (runtime.backends.rllib.algorithm.build_algorithm_config).
CUSTOM_MODEL_KEYS = ("custom_model", "custom_model_config")
# Our own keys, handled before RLlib sees the configuration.
# reward_scale: the rewards the learner trains on, times this (runtime.backends.rllib.reward_scale);
# normalize_rewards: the training envs' rewards normalised as SB3's VecNormalize (runtime.backends.rllib.reward_norm);
# num_threads: the learner's torch threads (runtime.config.threads).
OWN_KEYS = (
    "observation_filter",
    "model_config",
    "multi_agent_policies",
    "reward_scale",
    "normalize_rewards",
    "num_threads",
) + CUSTOM_MODEL_KEYS
# RLlib 1.x keys that have no RLlib 2.x counterpart in what rlrt runs: name -> what it was and what to use instead.
OLD_REFUSED: Mapping[str, str] = MappingProxyType(
    {
        "input_evaluation": "(RLlib 1.x: the off-policy estimation of a job that trains from 'input'; RLlib 2.x: "
        "off_policy_estimation_methods) goes with 'input', which needs an offline algorithm "
        "(rl.training.run=DiscreteCQL, ...), which reports its off-policy estimates (is, wis) "
        "after every epoch and plays 'simulation' episodes with evaluation_episodes "
        "(docs/OFFLINE.md). Remove it.",
    }
)
OBSERVATION_FILTERS = ("NoFilter", "MeanStdFilter")
# Multi-agent environments: one policy per agent group (a Unity behavior), or one policy shared by every agent.
MULTI_AGENT_POLICIES = ("per_group", "shared")
SHARED_POLICY = "shared"
ALGORITHMS = ("PPO", "APPO", "IMPALA", "DQN", "SAC", "BC", "MARWIL", "CQL", "IQL", "DreamerV3")
"""RLlib's own algorithms, as it spells them (``ray.rllib.algorithms.registry.ALGORITHMS``; a test compares)."""
# Internal or non-serialisable settings a hyperparameter may not set.
_FORBIDDEN_PREFIXES = ("_", "callbacks", "env_runner_cls", "policies", "policy_mapping_fn", "class")

# Model settings of rlrt's own, beside DefaultModelConfig's (name -> default): the initial log standard deviation of
# a Gaussian policy (RL Zoo's ``log_std_init``; RLlib starts it at 0), applied by algorithm.initial_log_std.
OWN_MODEL_SETTINGS: Mapping[str, Any] = MappingProxyType({"log_std_init": 0.0})

# Which RLlib model settings the old-stack "model" dict may carry into model_config.
_MODEL_DICT_KEYS = (
    "fcnet_hiddens",
    "fcnet_activation",
    "vf_share_layers",
    "free_log_std",
    "use_lstm",
    "max_seq_len",
    "lstm_cell_size",
    "conv_filters",
    "conv_activation",
)


@functools.lru_cache(maxsize=None)
def algorithm_config_class(algorithm: str) -> type:
    """The AlgorithmConfig subclass for ``algorithm`` (RLlib's spelling, as the resolved spec carries it: PPO ->
    PPOConfig); UserError if RLlib has none."""
    from ray.rllib.algorithms.registry import ALGORITHMS as REGISTRY  # heavy: Ray and RLlib (~4 s)

    if algorithm not in REGISTRY:
        close = difflib.get_close_matches(algorithm, list(REGISTRY), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UserError(f"Unknown RLlib algorithm '{algorithm}'.{hint} RLlib has: {', '.join(sorted(REGISTRY))}.")
    algorithm_class, default_config = REGISTRY[algorithm]()
    return type(default_config)


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
