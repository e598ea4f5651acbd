"""``rl_coach.graph_managers.graph_manager``: the schedule parameters and the graph manager's parameter side (Coach's
``rl_coach/graph_managers/graph_manager.py``).

A graph manager here holds what a preset set: its schedule (``heatup_steps``, ``evaluation_steps``,
``steps_between_evaluation_periods``, ``improve_steps``, copied onto the graph manager as Coach did, where SageMaker
RL's hyperparameters such as ``rl.improve_steps`` set them), ``visualization_parameters``,
``preset_validation_params`` and ``task_parameters``. It runs nothing: rlrt trains what it describes.
"""

from __future__ import annotations

from typing import Any, NoReturn

from rl_coach._where import Recorded, copy_where
from rl_coach.base_parameters import Parameters, PresetValidationParameters, VisualizationParameters
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TimeTypes, TrainingSteps
from runtime.errors import UserError


class ScheduleParameters(Parameters):
    def __init__(self) -> None:
        super().__init__()
        self.heatup_steps = None
        self.evaluation_steps = None
        self.steps_between_evaluation_periods = None
        self.improve_steps = None


class HumanPlayScheduleParameters(ScheduleParameters):
    def __init__(self) -> None:
        super().__init__()
        self.heatup_steps = EnvironmentSteps(0)
        self.evaluation_steps = EnvironmentEpisodes(0)
        self.steps_between_evaluation_periods = EnvironmentEpisodes(100000000)
        self.improve_steps = TrainingSteps(10000000000)


class SimpleScheduleWithoutEvaluation(ScheduleParameters):
    def __init__(self, improve_steps: Any = None) -> None:
        super().__init__()
        improve_steps = TrainingSteps(10000000000) if improve_steps is None else improve_steps
        self.heatup_steps = EnvironmentSteps(0)
        self.evaluation_steps = EnvironmentEpisodes(0)
        self.steps_between_evaluation_periods = improve_steps
        self.improve_steps = improve_steps


class SimpleSchedule(ScheduleParameters):
    def __init__(
        self, improve_steps: Any = None, steps_between_evaluation_periods: Any = None, evaluation_steps: Any = None
    ) -> None:
        super().__init__()
        self.heatup_steps = EnvironmentSteps(0)
        self.evaluation_steps = EnvironmentEpisodes(5) if evaluation_steps is None else evaluation_steps
        self.steps_between_evaluation_periods = (
            EnvironmentEpisodes(50) if steps_between_evaluation_periods is None else steps_between_evaluation_periods
        )
        self.improve_steps = TrainingSteps(10000000000) if improve_steps is None else improve_steps


class GraphManager(Recorded):
    """The parameters of a graph of agents and environments (each remembers where a preset set it: a schedule's
    counts where the schedule set them)."""

    def __init__(
        self, name: str, schedule_params: ScheduleParameters, vis_params: VisualizationParameters | None = None
    ) -> None:
        self.set_schedule_params(schedule_params)
        self.visualization_parameters = VisualizationParameters() if vis_params is None else vis_params
        self.name = name
        self.task_parameters = None
        self.preset_validation_params = PresetValidationParameters()
        self.is_batch_rl = False
        self.time_metric = TimeTypes.EpisodeNumber

    def set_schedule_params(self, schedule_params: ScheduleParameters) -> None:
        """Copy the schedule onto the graph manager (Coach's attributes of the same names)."""
        for name in ("heatup_steps", "evaluation_steps", "steps_between_evaluation_periods", "improve_steps"):
            setattr(self, name, getattr(schedule_params, name))
            copy_where(schedule_params, name, self)

    def _engine(self, what: str) -> NoReturn:
        raise UserError(
            f"graph_manager.{what}() is Coach's engine, which rlrt does not have (Intel RL Coach, "
            "TensorFlow 1): rlrt's rl_coach holds a preset's parameters only, and rlrt trains and "
            "evaluates with its own backends. See docs/MIGRATING.md."
        )

    def create_graph(self, task_parameters: Any = None) -> NoReturn:
        self._engine("create_graph")

    def improve(self) -> NoReturn:
        self._engine("improve")

    def evaluate(self, steps: Any = None, keep_networks_in_sync: bool = False) -> NoReturn:
        self._engine("evaluate")

    def close(self) -> None:
        """Nothing to close: no graph was created."""
