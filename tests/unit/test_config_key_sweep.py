"""Every ``rl.training.config.*`` key the validator accepts changes the run, or is refused with a reason: no key is
accepted and then silently dropped. For each of RLlib's PPO configuration keys (and the RLlib 1.x names rlrt
translates) a non-default value is resolved and built into RLlib's AlgorithmConfig in-process (no training); the
built configuration must carry it (or the job's environment, env_config or videos must change), or resolving or
building must fail with a message naming the key."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from runtime.backends.rllib.algorithm import build_algorithm_config
from runtime.backends.rllib.config import (
    _TYPE_OF_NONE_DEFAULTS,
    FRAMEWORK_KEYS,
    OLD_NAMES,
    OLD_SCHEDULES,
    TENSORFLOW_FRAMEWORKS,
    default_config_dict,
)
from runtime.backends.rllib.no_effect import NO_EFFECT
from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.plugins import INSTALLED

validator_for = INSTALLED.validator_for

ENV = "CartPole-v1"
# Non-default values for keys whose default is a string, a container or None (numbers and booleans are derived).
ALTERNATIVES: dict[str, Any] = {
    "torch_compile_learner_what_to_compile": "complete_update",
    "torch_compile_learner_dynamo_backend": "eager",
    "torch_compile_learner_dynamo_mode": "reduce-overhead",
    "torch_ddp_kwargs": {"find_unused_parameters": True},
    "env": "Pendulum-v1",
    "env_config": {"max_episode_steps": 40},
    "gym_env_vectorize_mode": "async",
    "custom_resources_per_env_runner": {"accelerator": 0},
    "custom_resources_per_learner": {"accelerator": 0},
    "merge_env_runner_states": True,
    "rollout_fragment_length": 64,
    "batch_mode": "complete_episodes",
    "observation_filter": "MeanStdFilter",
    "num_cpus_per_learner": 2,
    "grad_clip_by": "value",
    "model": {"fcnet_hiddens": [16]},
    "model_config": {"fcnet_hiddens": [16]},
    "count_steps_by": "agent_steps",
    "policies_to_train": ["default_policy"],
    "evaluation_duration_unit": "timesteps",
    "evaluation_error_after_n_consecutive_skips": 5,
    "evaluation_config": {"explore": False},
    "evaluation_interval": 3,
    "log_level": "INFO",
    "algorithm_config_overrides_per_module": {"default_policy": {"lr": 0.001}},
    "seed": 3,
    "grad_clip": 0.25,
    "min_time_s_per_iteration": 2.0,
    "train_batch_size_per_learner": 1024,
    "minibatch_size": 64,
    "use_gae": False,
    "evaluation_parallel_to_training": True,
    "gamma": 0.9,
    "lambda": 0.5,
    "lambda_": 0.5,
    "framework": "tf2",
    "use_pytorch": False,
    "eager": True,
}
# Settings a value needs alongside it to be valid (RLlib refuses it alone).
COMPANIONS: dict[str, dict[str, Any]] = {
    "use_gae": {"rl.training.config.batch_mode": "complete_episodes"},
    "evaluation_parallel_to_training": {
        "rl.training.config.evaluation_num_env_runners": 1,
        "rl.training.config.evaluation_interval": 1,
    },
}
# Where a handled key shows its effect when it is not a setting of the built configuration.
EFFECT_ELSEWHERE = {
    "env": lambda spec, built: spec.env == "Pendulum-v1",
    "env_config": lambda spec, built: built["env_config"].get("max_episode_steps") == 40,
    "model": lambda spec, built: built["_model_config"]["fcnet_hiddens"] == [16],
    "model_config": lambda spec, built: built["_model_config"]["fcnet_hiddens"] == [16],
    "observation_filter": lambda spec, built: built["_env_to_module_connector"] is not None,
    "horizon": lambda spec, built: built["env_config"].get("episode_step_cap") == 33,
    "monitor": lambda spec, built: spec.extras.get(hp.RECORD_VIDEO_EVERY) == 0,
    "output": lambda spec, built: built.get("callbacks_on_sample_end") is not None,  # episodes written (episode_output)
}


def _other(key: str, current: Any) -> Any:
    """A valid value different from ``current`` (None when the test has none: the key must then be refused)."""
    if key in ALTERNATIVES:
        return ALTERNATIVES[key]
    if isinstance(current, enum.Enum):
        return None
    typed = current if current is not None else _TYPE_OF_NONE_DEFAULTS.get(key)
    if isinstance(typed, bool):
        return not current
    if isinstance(typed, int):
        return (current or 0) + 1 if (current or 0) >= 0 else 1
    if isinstance(typed, float):
        return (current or 1.0) / 2 if current else 0.5
    return None


@pytest.fixture(scope="module")
def baseline() -> dict[str, Any]:
    return build_algorithm_config(hp.resolve({"preset": "cartpole-ppo"}, validator_for, num_cpus=2), ENV).to_dict()


def _outcome(key: str, value: Any, baseline: dict[str, Any]) -> str:
    """``refused``, ``changed`` or a description of the silent no-op."""
    try:
        spec = hp.resolve(
            {"preset": "cartpole-ppo", f"rl.training.config.{key}": value, **COMPANIONS.get(key, {})},
            validator_for,
            num_cpus=2,
        )
        built = build_algorithm_config(spec, ENV).to_dict()
    except UserError as exc:
        named = key.rstrip("_") in str(exc) or OLD_NAMES.get(key, OLD_SCHEDULES.get(key, "?")) in str(exc)
        return "refused" if named else f"refused without naming the key: {exc}"
    if key in EFFECT_ELSEWHERE:
        return "changed" if EFFECT_ELSEWHERE[key](spec, built) else "no effect"
    name = OLD_SCHEDULES.get(key) or OLD_NAMES.get(key, key)
    stored = name if name in built else "_" + name
    if stored not in built:
        return f"{name} is not in the built configuration"
    return "changed" if built[stored] != baseline.get(stored) else f"{name} stayed {built[stored]!r}"


def test_every_rllib_key_changes_the_built_configuration_or_is_refused(baseline: dict[str, Any]) -> None:
    keys = list(default_config_dict("PPO"))
    silent = {}
    for key in keys:
        if key in FRAMEWORK_KEYS:  # TensorFlow: ignored with one line (test_sagemaker_rls_tensorflow_settings_...)
            continue
        value = _other(key, baseline.get(key, baseline.get("_" + key)))
        if value is None:
            value = "a value"  # no valid alternative: the key must be refused whatever it is given
        outcome = _outcome(key, value, baseline)
        if outcome != "changed" and outcome != "refused":
            silent[key] = outcome
    assert not silent, f"{len(silent)} keys accepted without effect: {silent}"


@pytest.mark.parametrize("key", sorted(FRAMEWORK_KEYS))
def test_sagemaker_rls_tensorflow_settings_train_torch_and_say_so(
    key: str, baseline: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """SageMaker RL's images trained TensorFlow (``framework: tf``, ``use_pytorch: False``, ``eager: True``): rlrt
    trains torch, with one line; a value no RLlib had is refused."""
    for value in TENSORFLOW_FRAMEWORKS[key]:
        caplog.clear()
        spec = hp.resolve({f"rl.training.config.{key}": value}, validator_for, num_cpus=2)
        assert key not in spec.config
        assert caplog.text.count("the setting is ignored") == 1 and "torch" in caplog.text
    with pytest.raises(UserError, match="trains with torch"):
        hp.resolve({f"rl.training.config.{key}": "jax"}, validator_for, num_cpus=2)


@pytest.mark.parametrize("key", sorted({*OLD_NAMES, *OLD_SCHEDULES, "horizon", "monitor"}))
def test_every_rllib_1x_name_is_translated_or_refused(key: str, baseline: dict[str, Any]) -> None:
    values = {
        "horizon": 33,
        "monitor": False,
        "lr_schedule": [[0, 0.01], [1000, 0.001]],
        "entropy_coeff_schedule": [[0, 0.01], [1000, 0.0]],
        "num_gpus": 1,
        "num_gpus_per_worker": 1,
        "sample_batch_size": 64,
        "num_cpus_per_worker": 2,
    }
    target = OLD_NAMES.get(key, key)
    value = values.get(key, ALTERNATIVES.get(key, _other(target, baseline.get(target, baseline.get("_" + target)))))
    assert _outcome(key, value, baseline) in ("changed", "refused")


def test_keys_without_effect_are_refused_with_the_reason() -> None:
    for key, reason in NO_EFFECT.items():
        with pytest.raises(UserError) as info:
            hp.resolve({f"rl.training.config.{key}": True}, validator_for, num_cpus=2)
        assert f"rl.training.config.{key}" in str(info.value) and reason in str(info.value)


def test_a_name_valued_fn_key_is_honoured_and_an_object_one_refused() -> None:
    """``td_error_loss_fn`` takes a name ("huber" or "mse"), not a function, though its key ends like one."""
    spec = hp.resolve(
        {"rl.training.run": "DQN", "rl.training.config.td_error_loss_fn": "mse"}, validator_for, num_cpus=2
    )
    assert build_algorithm_config(spec, ENV).to_dict()["td_error_loss_fn"] == "mse"
    with pytest.raises(UserError, match="takes a Python object"):
        hp.resolve({"rl.training.config.learner_class": "f"}, validator_for, num_cpus=2)
