"""``model_config.log_std_init``: a Gaussian policy's initial log standard deviation (RL Zoo's ``log_std_init``),
on the learner's module and, through RLlib's weight sync, on the module the env runner samples with."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from runtime.backends.rllib.algorithm import build_algorithm_config, fill_log_std
from runtime.backends.rllib.ray_process import init_ray, shutdown_ray
from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.plugins import INSTALLED

validator_for = INSTALLED.validator_for


def spec_for(model_config: dict[str, object]) -> TrainingSpec:
    """A one-iteration PPO spec (the reacher preset's settings) with ``model_config`` added."""
    params = {
        "preset": "reacher-ppo",
        "rl.training.config.num_env_runners": 0,
        "rl.training.config.num_envs_per_env_runner": 1,
        "rl.training.config.train_batch_size": 64,
        "rl.training.config.sgd_minibatch_size": 32,
        "rl.training.config.num_sgd_iter": 1,
    }
    params.update({f"rl.training.config.model_config.{k}": v for k, v in model_config.items()})
    return hp.resolve(params, validator_for, num_cpus=2)


def action_dist_inputs(module: torch.nn.Module, obs_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The means and log standard deviations of the module's action distribution on 256 fixed random observations."""
    obs = torch.randn(256, obs_dim, generator=torch.Generator().manual_seed(0)) * 3
    with torch.no_grad():
        inputs = module.forward_inference({"obs": obs})["action_dist_inputs"]
    half = inputs.shape[1] // 2
    return inputs[:, :half], inputs[:, half:]


def build_module(env: str, model_config: dict[str, object]) -> torch.nn.Module:
    import gymnasium as gym

    return build_algorithm_config(spec_for(model_config), env).get_rl_module_spec(env=gym.make(env)).build()


def test_the_setting_is_resolved_into_model_config() -> None:
    spec = spec_for({"log_std_init": "-2"})
    assert spec.config["model_config"]["log_std_init"] == -2


@pytest.mark.parametrize("free_log_std", [True, False])
def test_fill_sets_the_action_distributions_spread(free_log_std: bool) -> None:
    module = build_module("Pendulum-v1", {"free_log_std": free_log_std})
    means_before, log_stds_before = action_dist_inputs(module, 3)
    assert log_stds_before.abs().mean() < 0.5  # RLlib's start: log-std near 0
    assert fill_log_std(module, -2.0)
    means_after, log_stds_after = action_dist_inputs(module, 3)
    if free_log_std:
        assert torch.equal(log_stds_after, torch.full_like(log_stds_after, -2.0))
    else:  # the head's log-std bias is -2; its weights add a little that depends on the observation
        assert abs(log_stds_after.mean().item() + 2.0) < 0.3 and log_stds_after.max() < -1.0
    assert torch.equal(means_before, means_after)  # the actions' means are untouched


def test_fill_reports_discrete_actions() -> None:
    module = build_module("CartPole-v1", {})
    assert not fill_log_std(module, -2.0)


def test_the_algorithm_samples_with_the_initial_spread_and_refuses_discrete_actions() -> None:
    config = build_algorithm_config(spec_for({"log_std_init": -1.5, "free_log_std": True}), "Pendulum-v1")
    local = init_ray(2, 0)  # the job's own Ray settings
    try:
        algo = config.build_algo()
        try:
            learner_std = algo.learner_group._learner.module["default_policy"].pi.log_std
            runner_std = algo.env_runner_group.local_env_runner.module.pi.log_std
            assert torch.equal(learner_std, torch.full((1,), -1.5)) and torch.equal(runner_std, learner_std)
            algo.train()  # one iteration samples with it and trains on
            assert math.isfinite(algo.get_module().pi.log_std.item())
        finally:
            algo.stop()
        discrete = build_algorithm_config(spec_for({"log_std_init": -1.5}), "CartPole-v1")
        with pytest.raises(UserError, match="log_std_init.*Gaussian"):
            discrete.build_algo()
    finally:
        shutdown_ray(local)


@pytest.mark.parametrize("clip_log_std", [False, True])
def test_a_free_log_std_policy_exports_for_any_batch_size(tmp_path: Path, clip_log_std: bool) -> None:
    """RLlib's free-log-std head repeats its log-std to the batch's length, which a trace freezes to the example's
    (2 rows); the serving policy's head broadcasts instead, so the TorchScript and ONNX files take any batch."""
    import numpy as np

    from runtime.backends.rllib.policy import serving_policy_from_parts
    from runtime.export.onnx_export import export_onnx, onnx_outputs
    from runtime.export.torchscript_export import export_torchscript

    module = build_module("Pendulum-v1", {"free_log_std": True})
    assert fill_log_std(module, -1.0)
    module.pi.clip_log_std = clip_log_std  # both of the head's paths (RLlib sets it on the policy head)
    policy, head, obs_filter = serving_policy_from_parts(module, None, normalize_actions=False)
    obs = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = torch.clamp(module.forward_inference({"obs": obs})["action_dist_inputs"][:, :1], -2.0, 2.0)
    export_torchscript(policy, 3, tmp_path / "policy.pt")
    with torch.no_grad():
        (traced,) = torch.jit.load(str(tmp_path / "policy.pt"))(obs)
    export_onnx(policy, 3, head, tmp_path / "policy.onnx")
    (exported,) = onnx_outputs(tmp_path / "policy.onnx", obs.numpy())
    assert torch.allclose(traced, expected, atol=1e-6)
    assert np.allclose(exported, expected.numpy(), atol=1e-5)
    assert type(module.pi).__name__ == "TorchFreeLogStdMLPHead"  # the trained module itself is left as it was
