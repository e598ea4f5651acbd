"""``rl_coach.exploration_policies.continuous_entropy``: sample continuous actions from the policy's distribution."""

from __future__ import annotations

from rl_coach.exploration_policies.additive_noise import AdditiveNoiseParameters


class ContinuousEntropyParameters(AdditiveNoiseParameters):
    pass
