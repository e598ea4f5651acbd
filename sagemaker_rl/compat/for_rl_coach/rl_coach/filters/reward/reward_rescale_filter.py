"""``rl_coach.filters.reward.reward_rescale_filter`` (Coach's file of the same name): multiply the reward by
``rescale_factor``."""

from __future__ import annotations

from rl_coach.filters.reward.reward_filter import RewardFilter


class RewardRescaleFilter(RewardFilter):
    def __init__(self, rescale_factor: float) -> None:
        super().__init__()
        if rescale_factor == 0:
            raise ValueError("The reward rescale value can not be set to 0")
        self.rescale_factor = rescale_factor

    def filter(self, reward: float, update_internal_state: bool = True) -> float:
        return float(reward) * self.rescale_factor
