"""``rl_coach.filters.observation.observation_normalization_filter`` (Coach's file of the same name): normalize each
observation element by the running mean and standard deviation of the observations seen, clipped to
[``clip_min``, ``clip_max``]."""

from __future__ import annotations

from rl_coach.filters.observation.observation_filter import ObservationFilter


class ObservationNormalizationFilter(ObservationFilter):
    def __init__(self, clip_min: float = -5.0, clip_max: float = 5.0, name: str = "observation_stats") -> None:
        super().__init__()
        self.clip_min = clip_min
        self.clip_max = clip_max
        self.running_observation_stats = None
        self.name = name
        self.supports_batching = True
        self.observation_space = None
