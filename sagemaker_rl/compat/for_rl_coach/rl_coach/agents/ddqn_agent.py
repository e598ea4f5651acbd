"""``rl_coach.agents.ddqn_agent``: Double DQN's parameters (Coach's ``rl_coach/agents/ddqn_agent.py``)."""

from __future__ import annotations

from rl_coach.agents.dqn_agent import DQNAgentParameters
from rl_coach.core_types import EnvironmentSteps
from rl_coach.schedules import LinearSchedule


class DDQNAgentParameters(DQNAgentParameters):
    def __init__(self) -> None:
        super().__init__()
        self.algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(30000)
        self.exploration.epsilon_schedule = LinearSchedule(1, 0.01, 1000000)
        self.exploration.evaluation_epsilon = 0.001
