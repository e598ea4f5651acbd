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

    config = (PPOConfig().environment("CartPole-v1").training(clip_param=0.2, use_kl_loss=False)
              .learners(learner_class=ppo_learner_class()))
    learner = config.build_learner(env=gymnasium.make("CartPole-v1"))
    module = learner.module["default_policy"]
    rng = np.random.default_rng(0)
    n = 256
    sampling = rng.normal(scale=2.0, size=(n, 2)).astype(np.float32)  # the logits of the policy that sampled
    actions = rng.integers(0, 2, n)
    sampling_logp = sampling - np.log(np.exp(sampling).sum(axis=1, keepdims=True))
    batch = {Columns.OBS: torch.tensor(rng.normal(size=(n, 4)), dtype=torch.float32),
             Columns.ACTIONS: torch.tensor(actions), Columns.ACTION_DIST_INPUTS: torch.tensor(sampling),
             Columns.ACTION_LOGP: torch.tensor(sampling_logp[np.arange(n), actions]),
             Postprocessing.ADVANTAGES: torch.zeros(n), Postprocessing.VALUE_TARGETS: torch.zeros(n)}
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
