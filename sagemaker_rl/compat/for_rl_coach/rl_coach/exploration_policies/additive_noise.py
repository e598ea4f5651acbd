"""``rl_coach.exploration_policies.additive_noise``: Gaussian noise added to continuous actions (Coach's
``rl_coach/exploration_policies/additive_noise.py``)."""

from __future__ import annotations

from rl_coach.exploration_policies.exploration_policy import ExplorationParameters
from rl_coach.schedules import LinearSchedule


class AdditiveNoiseParameters(ExplorationParameters):
    def __init__(self) -> None:
        super().__init__()
        self.noise_schedule = LinearSchedule(0.1, 0.1, 50000)
        self.evaluation_noise = 0.05
        self.noise_as_percentage_from_action_space = True
