"""``rl_coach.graph_managers.batch_rl_graph_manager``: learning from a dataset (Coach's file of the same name).

Without an environment (``env_params=None``) the dataset's spaces come from ``spaces_definition``; with one, the
dataset is collected first (at random, or by ``experience_generating_agent_params`` on
``experience_generating_schedule_params``). ``train_to_eval_ratio`` of the data trains, the rest is for off-policy
evaluation; ``reward_model_num_epochs`` trains the reward model of the direct-method and doubly-robust estimators.
"""

from __future__ import annotations

from typing import Any

from rl_coach.base_parameters import AgentParameters, PresetValidationParameters, VisualizationParameters
from rl_coach.core_types import TimeTypes
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.spaces import SpacesDefinition


class BatchRLGraphManager(BasicRLGraphManager):
    def __init__(
        self,
        agent_params: AgentParameters,
        env_params: Any,
        schedule_params: ScheduleParameters,
        vis_params: VisualizationParameters | None = None,
        preset_validation_params: PresetValidationParameters | None = None,
        name: str = "batch_rl_graph",
        spaces_definition: SpacesDefinition | None = None,
        reward_model_num_epochs: int = 100,
        train_to_eval_ratio: float = 0.8,
        experience_generating_agent_params: AgentParameters | None = None,
        experience_generating_schedule_params: ScheduleParameters | None = None,
    ) -> None:
        super().__init__(agent_params, env_params, schedule_params, vis_params, preset_validation_params, name)
        self.is_batch_rl = True
        self.time_metric = TimeTypes.Epoch
        self.reward_model_num_epochs = reward_model_num_epochs
        self.spaces_definition = spaces_definition
        self.is_collecting_random_dataset = experience_generating_agent_params is None
        # The memory's own default ratio is 1 (no evaluation split); Batch RL sets the graph's.
        if experience_generating_agent_params is None:
            self.agent_params.memory.train_to_eval_ratio = train_to_eval_ratio
        else:
            experience_generating_agent_params.memory.train_to_eval_ratio = train_to_eval_ratio
            self.experience_generating_agent_params = experience_generating_agent_params
            self.set_schedule_params(experience_generating_schedule_params)
            self.schedule_params = schedule_params
