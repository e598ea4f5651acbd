"""``rl_coach.filters.reward.reward_filter``: the base of reward filters."""

from __future__ import annotations

from rl_coach.filters.filter import Filter


class RewardFilter(Filter):
    def __init__(self) -> None:
        super().__init__()
        self.supports_batching = False
