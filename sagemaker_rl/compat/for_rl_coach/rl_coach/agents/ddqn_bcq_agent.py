"""``rl_coach.agents.ddqn_bcq_agent``: the parameters of Double DQN with (a variant on) BCQ, for Batch RL (Coach's
``rl_coach/agents/ddqn_bcq_agent.py``): actions the data rarely took are dropped from the Bellman max, chosen by a
k-nearest-neighbours (:class:`KNNParameters`) or a network (:class:`NNImitationModelParameters`) model."""

from __future__ import annotations

from rl_coach.agents.dqn_agent import DQNAgentParameters, DQNAlgorithmParameters
from rl_coach.base_parameters import Parameters
from rl_coach.core_types import EnvironmentSteps
from rl_coach.schedules import LinearSchedule


class NNImitationModelParameters(Parameters):
    def __init__(self) -> None:
        super().__init__()
        self.imitation_model_num_epochs = 100
        self.mask_out_actions_threshold = 0.35


class KNNParameters(Parameters):
    def __init__(self) -> None:
        super().__init__()
        self.average_dist_coefficient = 1
        self.knn_size = 50000
        self.use_state_embedding_instead_of_state = True


class DDQNBCQAlgorithmParameters(DQNAlgorithmParameters):
    def __init__(self) -> None:
        super().__init__()
        self.action_drop_method_parameters = KNNParameters()
        self.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(30000)


class DDQNBCQAgentParameters(DQNAgentParameters):
    def __init__(self) -> None:
        super().__init__()
        self.algorithm = DDQNBCQAlgorithmParameters()
        self.exploration.epsilon_schedule = LinearSchedule(1, 0.01, 1000000)
        self.exploration.evaluation_epsilon = 0.001
