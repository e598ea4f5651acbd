"""``rl_coach.graph_managers.basic_rl_graph_manager``: one agent and one environment (Coach's file of the same
name)."""

from __future__ import annotations

from typing import Any

from rl_coach.base_parameters import AgentParameters, PresetValidationParameters, VisualizationParameters
from rl_coach.filters.filter import NoInputFilter, NoOutputFilter
from rl_coach.graph_managers.graph_manager import GraphManager, ScheduleParameters


class BasicRLGraphManager(GraphManager):
    """``agent_params`` playing ``env_params``. As in Coach, the agent's visualization is ``vis_params``, and an agent
    without input / output filters gets the environment's defaults (none without an environment)."""

    def __init__(
        self,
        agent_params: AgentParameters,
        env_params: Any,
        schedule_params: ScheduleParameters,
        vis_params: VisualizationParameters | None = None,
        preset_validation_params: PresetValidationParameters | None = None,
        name: str = "simple_rl_graph",
    ) -> None:
        super().__init__(name, schedule_params, vis_params)
        self.agent_params = agent_params
        self.env_params = env_params
        self.preset_validation_params = (
            PresetValidationParameters() if preset_validation_params is None else preset_validation_params
        )
        self.agent_params.visualization = self.visualization_parameters
        if self.agent_params.input_filter is None:
            self.agent_params.input_filter = _default(env_params, "default_input_filter", NoInputFilter)
        if self.agent_params.output_filter is None:
            self.agent_params.output_filter = _default(env_params, "default_output_filter", NoOutputFilter)


def _default(env_params: Any, name: str, empty: type) -> Any:
    """A copy of the environment's default filter (Coach called the filter for a copy); ``empty()`` without one."""
    default = getattr(env_params, name, None) if env_params is not None else None
    return default() if default is not None else empty()
