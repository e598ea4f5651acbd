"""``rl_coach.filters.reward``: reward filters."""

from rl_coach.filters.reward.reward_rescale_filter import RewardRescaleFilter

__all__ = ["RewardRescaleFilter"]
