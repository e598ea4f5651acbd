"""``rl_coach.agents.actor_critic_agent``: Actor-Critic (A3C) parameters, with the defaults of Coach's
``rl_coach/agents/actor_critic_agent.py``."""

from __future__ import annotations

from rl_coach.agents.policy_optimization_agent import PolicyGradientRescaler
from rl_coach.architectures.embedder_parameters import InputEmbedderParameters
from rl_coach.architectures.head_parameters import PolicyHeadParameters, VHeadParameters
from rl_coach.architectures.middleware_parameters import FCMiddlewareParameters
from rl_coach.base_parameters import AgentParameters, AlgorithmParameters, NetworkParameters
from rl_coach.exploration_policies.categorical import CategoricalParameters
from rl_coach.exploration_policies.continuous_entropy import ContinuousEntropyParameters
from rl_coach.memories.episodic.single_episode_buffer import SingleEpisodeBufferParameters
from rl_coach.spaces import BoxActionSpace, DiscreteActionSpace


class ActorCriticAlgorithmParameters(AlgorithmParameters):
    def __init__(self) -> None:
        super().__init__()
        self.policy_gradient_rescaler = PolicyGradientRescaler.A_VALUE
        self.apply_gradients_every_x_episodes = 5
        self.beta_entropy = 0
        self.num_steps_between_gradient_updates = 5000  # t_max in the papers
        self.gae_lambda = 0.96
        self.estimate_state_value_using_gae = False


class ActorCriticNetworkParameters(NetworkParameters):
    def __init__(self) -> None:
        super().__init__()
        self.input_embedders_parameters = {"observation": InputEmbedderParameters()}
        self.middleware_parameters = FCMiddlewareParameters()
        self.heads_parameters = [VHeadParameters(loss_weight=0.5), PolicyHeadParameters(loss_weight=1.0)]
        self.optimizer_type = "Adam"
        self.clip_gradients = 40.0
        self.async_training = True


class ActorCriticAgentParameters(AgentParameters):
    def __init__(self) -> None:
        super().__init__(
            algorithm=ActorCriticAlgorithmParameters(),
            exploration={DiscreteActionSpace: CategoricalParameters(), BoxActionSpace: ContinuousEntropyParameters()},
            memory=SingleEpisodeBufferParameters(),
            networks={"main": ActorCriticNetworkParameters()},
        )
