"""``rl_coach.filters.observation``: observation filters."""

from rl_coach.filters.observation.observation_normalization_filter import ObservationNormalizationFilter

__all__ = ["ObservationNormalizationFilter"]
