"""RLlib configuration keys that RLlib 2.60 accepts but that do nothing in the job rlrt runs (the new API stack, torch,
online, the algorithm driven directly rather than through Ray Tune), each refused with why and what to use instead:
an accepted key either changes the run or is refused (tests/unit/test_config_key_sweep.py shows it for every key).

How the list was made: every key of ``PPOConfig().to_dict()`` was looked up in RLlib 2.60's sources outside its old
API stack (``rllib/evaluation``, ``rllib/policy``, ``rllib/models``, ``rllib/execution``, TensorFlow modules,
examples); keys read nowhere else, or only by Ray Tune's resource request, or only by TensorFlow, are here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

_OLD_STACK = "an RLlib old-API-stack setting; rlrt trains on RLlib 2.x's new API stack, which does not read it"
_TF = "a TensorFlow setting; rlrt trains with torch"
_TUNE = (
    "only read by Ray Tune's resource request; rlrt runs the algorithm itself (size it with num_env_runners, "
    "num_cpus_per_env_runner and the instance type)"
)
_OFFLINE = (
    "an RLlib offline-data setting; rlrt trains offline with d3rlpy (e.g. preset cartpole-bcq, data in the "
    "'train' channel) and writes rollout data with `rlrt collect`"
)
_OBJECT = (
    "takes a Python object (a class or function), which a hyperparameter cannot give; set it in your own "
    "training script (sagemaker_rl's launcher)"
)
_DEPRECATED_VALUE = -1
"""RLlib's ``DEPRECATED_VALUE``: the default of keys RLlib 2.x removed."""

NO_EFFECT: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "eager_tracing",
                "eager_max_retraces",
                "tf_session_args",
                "local_tf_session_args",
                "enable_tf1_exec_eagerly",
            ),
            _TF,
        ),
        **dict.fromkeys(
            (
                "exploration_config",
                "preprocessor_pref",
                "sample_collector",
                "sampler_perf_stats_ema_coef",
                "compress_observations",
                "remote_env_batch_wait_ms",
                "policy_map_capacity",
                "observation_fn",
                "update_worker_filter_stats",
                "use_worker_filter_stats",
                "replay_sequence_length",
                "fake_sampler",
                "create_env_on_driver",
                "export_native_model_files",
                "checkpoint_trainable_policies_only",
                "optimizer",
                "policy_states_are_swappable",
                "sync_filters_on_rollout_workers_timeout_s",
                "keep_per_episode_custom_metrics",
                "custom_eval_function",
            ),
            _OLD_STACK,
        ),
        **dict.fromkeys(
            (
                "placement_strategy",
                "custom_resources_for_main_process",
                "extra_python_environs_for_driver",
                "extra_python_environs_for_worker",
                "log_sys_usage",
            ),
            _TUNE,
        ),
        "torch_compile_worker": _OLD_STACK + "; compile the learner's module with torch_compile_learner",
        "torch_compile_worker_dynamo_backend": _OLD_STACK + "; use torch_compile_learner_dynamo_backend",
        "torch_compile_worker_dynamo_mode": _OLD_STACK + "; use torch_compile_learner_dynamo_mode",
        "render_env": "RLlib 2.x's env runners do not render; rlrt films rollouts itself (record_video_every)",
        "clip_rewards": _OLD_STACK + "; clip rewards in the environment (or its reward function) instead",
        "action_mask_key": "only read by custom RLModules; rlrt trains RLlib's default modules",
        "learner_config_dict": "only read by custom Learner classes; rlrt trains RLlib's default learners",
        "observation_space": "rlrt takes the spaces from the environment",
        "action_space": "rlrt takes the spaces from the environment",
        "is_atari": "RLlib detects Atari environments itself",
        "in_evaluation": "set by RLlib itself on its evaluation env runners",
        "is_online": "set by RLlib itself",
    }
)

_OFFLINE_PREFIXES = (
    "input",
    "output",
    "offline_",
    "prelearner",
    "materialize",
    "dataset_num_iters",
    "ope_",
    "off_policy_estimation",
)
_OFFLINE_KEYS = (
    "map_batches_kwargs",
    "iter_batches_kwargs",
    "ignore_final_observation",
    "actions_in_input_normalized",
    "postprocess_inputs",
    "shuffle_buffer_size",
    "num_offline_eval_runners",
    "offline_sampling",
    "evaluation_num_offline_eval_runners",
)
_OBJECT_SUFFIXES = ("_cls", "_class", "_fn", "_function", "_classes", "stats_cls_lookup")


def refusal(key: str, default: Any) -> str | None:
    """Why ``rl.training.config.<key>`` (RLlib's default ``default``) is refused, or None when it is honoured."""
    if key in NO_EFFECT:
        return NO_EFFECT[key]
    if key.startswith(_OFFLINE_PREFIXES) or key in _OFFLINE_KEYS or "offline_eval" in key:
        return _OFFLINE
    # A name such as td_error_loss_fn ("huber" or "mse") ends like an object's key but takes a string.
    named_object = key.endswith(_OBJECT_SUFFIXES) and not isinstance(default, str)
    if (
        named_object
        or isinstance(default, type)
        or callable(default)
        and not isinstance(default, (int, float, str, list, dict))
    ):
        return _OBJECT
    if default == _DEPRECATED_VALUE and not isinstance(default, bool):
        return "removed in RLlib 2.x (RLlib's own configuration refuses it)"
    return None


def message(key: str, reason: str) -> str:
    """The problem line for a refused key."""
    return f"'rl.training.config.{key}' has no effect in rlrt's RLlib 2.x jobs: {reason}. Remove it."
