"""RLlib's PPO learner with the two numbers a PPO user reads at each update, whatever the loss uses: the KL divergence
between the policy that sampled the batch and the one being trained, and the fraction of samples whose probability
ratio left the clip range (Stable-Baselines3's ``approx_kl`` and ``clip_fraction``).

RLlib computes the KL only when the KL penalty is on (``use_kl_loss``) and logs a constant 0 otherwise; it never logs
the clip fraction. The subclass adds both through the public ``Learner`` API (``compute_loss_for_module`` and
``self.metrics``), outside the gradient; the loss is RLlib's, unchanged.

Its optimizer is RLlib's (Adam, the learning rate or schedule RLlib attaches) with torch's fused implementation, one
kernel for all parameters instead of a Python loop over them: the same update to float rounding, and 4-11 % less
learner time for the small networks and minibatches that envs without a preset train with (bench/results/history.md).
"""

from __future__ import annotations

import functools
from typing import Any

KL = "rlrt_kl"
CLIP_FRACTION = "rlrt_clip_fraction"
"""The learner-result keys (per module) of the two statistics (runtime.train.reporting.LEARNER_STATS)."""


@functools.cache
def ppo_learner_class() -> type:
    """The PPO torch learner that also logs :data:`KL` and :data:`CLIP_FRACTION` (made once per process: RLlib
    pickles the config, class included, to its actors)."""
    import torch  # heavy: PyTorch
    from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner  # heavy: RLlib
    from ray.rllib.core.columns import Columns  # heavy: RLlib

    class PPOLearnerWithStats(PPOTorchLearner):
        """PPOTorchLearner logging the batch's mean KL(sampling policy || trained policy) and clip fraction, with a
        fused Adam."""

        def configure_optimizers_for_module(self, module_id: Any, config: Any = None) -> None:
            # RLlib's own body (TorchLearner), but for `fused`: register_optimizer attaches the learning rate.
            params = self.get_parameters(self.module[module_id])
            self.register_optimizer(
                module_id=module_id,
                optimizer=torch.optim.Adam(params, fused=True),
                params=params,
                lr_or_lr_schedule=config.lr,
            )

        def compute_loss_for_module(
            self, *, module_id: Any, config: Any, batch: dict[str, Any], fwd_out: dict[str, Any]
        ) -> Any:
            loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
            with torch.no_grad():
                module = self.module[module_id].unwrapped()
                current = module.get_train_action_dist_cls().from_logits(fwd_out[Columns.ACTION_DIST_INPUTS])
                sampling = module.get_exploration_action_dist_cls().from_logits(batch[Columns.ACTION_DIST_INPUTS])
                ratio = torch.exp(current.logp(batch[Columns.ACTIONS]) - batch[Columns.ACTION_LOGP])
                clipped = (torch.abs(ratio - 1.0) > config.clip_param).float()
                kl: Any = sampling.kl(current)
                mask = batch.get(Columns.LOSS_MASK)
                if mask is not None:  # padded steps (recurrent models, the value bootstrap step) count for nothing
                    kl, clipped = kl[mask], clipped[mask]
                self.metrics.log_dict({KL: torch.mean(kl), CLIP_FRACTION: torch.mean(clipped)}, key=module_id, window=1)
            return loss

    return PPOLearnerWithStats
