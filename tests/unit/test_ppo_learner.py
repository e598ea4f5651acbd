"""PPO's learner logs the KL divergence and the clip fraction of each batch (runtime.backends.rllib.ppo_learner),
checked against a calculation of its own with NumPy on a real RLlib PPO module, the KL penalty off (where RLlib's own
``mean_kl_loss`` is a constant 0)."""

from __future__ import annotations

import numpy as np


def test_kl_and_clip_fraction_match_an_independent_calculation() -> None:
    import gymnasium
    import torch
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.columns import Columns
    from ray.rllib.evaluation.postprocessing import Postprocessing

    from runtime.backends.rllib.ppo_learner import CLIP_FRACTION, KL, ppo_learner_class

    config = (
        PPOConfig()
        .environment("CartPole-v1")
        .training(clip_param=0.2, use_kl_loss=False)
        .learners(learner_class=ppo_learner_class())
    )
    learner = config.build_learner(env=gymnasium.make("CartPole-v1"))
    module = learner.module["default_policy"]
    rng = np.random.default_rng(0)
    n = 256
    sampling = rng.normal(scale=2.0, size=(n, 2)).astype(np.float32)  # the logits of the policy that sampled
    actions = rng.integers(0, 2, n)
    sampling_logp = sampling - np.log(np.exp(sampling).sum(axis=1, keepdims=True))
    batch = {
        Columns.OBS: torch.tensor(rng.normal(size=(n, 4)), dtype=torch.float32),
        Columns.ACTIONS: torch.tensor(actions),
        Columns.ACTION_DIST_INPUTS: torch.tensor(sampling),
        Columns.ACTION_LOGP: torch.tensor(sampling_logp[np.arange(n), actions]),
        Postprocessing.ADVANTAGES: torch.zeros(n),
        Postprocessing.VALUE_TARGETS: torch.zeros(n),
    }
    fwd_out = module.forward_train(batch)
    learner.compute_loss_for_module(module_id="default_policy", config=config, batch=batch, fwd_out=fwd_out)
    stats = learner.metrics.reduce()["default_policy"]

    current = fwd_out[Columns.ACTION_DIST_INPUTS].detach().numpy().astype(np.float64)
    current_logp = current - np.log(np.exp(current).sum(axis=1, keepdims=True))
    kl = np.mean(np.sum(np.exp(sampling_logp) * (sampling_logp - current_logp), axis=1))
    ratio = np.exp(current_logp[np.arange(n), actions] - sampling_logp[np.arange(n), actions])
    clip_fraction = np.mean(np.abs(ratio - 1.0) > 0.2)
    assert float(stats["mean_kl_loss"].peek()) == 0.0  # RLlib's own, with the penalty off
    assert np.isclose(float(stats[KL].peek()), kl, rtol=1e-4) and kl > 0.1
    assert np.isclose(float(stats[CLIP_FRACTION].peek()), clip_fraction) and 0 < clip_fraction < 1


def test_the_learner_steps_a_fused_adam_at_rllibs_learning_rate_like_torchs_reference_adam() -> None:
    """The fused optimizer takes RLlib's learning rate and every parameter of the module, and moves them as torch's
    plain (for-loop) Adam does, to float rounding."""
    import gymnasium
    import torch
    from ray.rllib.algorithms.ppo import PPOConfig

    from runtime.backends.rllib.ppo_learner import ppo_learner_class

    config = PPOConfig().environment("CartPole-v1").training(lr=1e-3).learners(learner_class=ppo_learner_class())
    learner = config.build_learner(env=gymnasium.make("CartPole-v1"))
    optimizer = learner.get_optimizer(module_id="default_policy")
    params = list(learner.module["default_policy"].parameters())
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] is True
    assert optimizer.param_groups[0]["lr"] == 1e-3
    assert {id(p) for group in optimizer.param_groups for p in group["params"]} == {id(p) for p in params}

    before = [p.detach().clone() for p in params]
    reference_params = [p.detach().clone().requires_grad_(True) for p in params]
    reference = torch.optim.Adam(reference_params, lr=1e-3, foreach=False, fused=False)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        for param, twin in zip(params, reference_params):
            grad = torch.randn(param.shape, generator=generator)
            param.grad, twin.grad = grad.clone(), grad.clone()
        optimizer.step()
        reference.step()
    for param, twin in zip(params, reference_params):
        assert torch.allclose(param.detach(), twin.detach(), rtol=1e-5, atol=1e-7)
    assert all(not torch.allclose(param.detach(), start) for param, start in zip(params, before))  # they moved
