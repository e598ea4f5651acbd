"""``rl_coach.filters.observation.observation_filter``: the base of observation filters."""

from __future__ import annotations

from rl_coach.filters.filter import Filter


class ObservationFilter(Filter):
    def __init__(self) -> None:
        super().__init__()
        self.supports_batching = False
