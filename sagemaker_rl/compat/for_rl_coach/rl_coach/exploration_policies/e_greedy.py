"""``rl_coach.exploration_policies.e_greedy``: epsilon-greedy exploration (Coach's
``rl_coach/exploration_policies/e_greedy.py``; for continuous actions, additive noise)."""

from __future__ import annotations

from rl_coach.exploration_policies.additive_noise import AdditiveNoiseParameters
from rl_coach.exploration_policies.exploration_policy import ExplorationParameters
from rl_coach.schedules import LinearSchedule


class EGreedyParameters(ExplorationParameters):
    def __init__(self) -> None:
        super().__init__()
        self.epsilon_schedule = LinearSchedule(0.5, 0.01, 50000)
        self.evaluation_epsilon = 0.05
        self.continuous_exploration_policy_parameters = AdditiveNoiseParameters()
        self.continuous_exploration_policy_parameters.noise_schedule = LinearSchedule(0.1, 0.1, 50000)
