"""``rl_coach.core_types``: step counts, run phases, video dump filters and dataset descriptions (Coach's
``rl_coach/core_types.py``). The step counts are ``sagemaker_rl.compat.coach_steps``'s classes."""

from __future__ import annotations

import abc

from collections import namedtuple
from enum import Enum
from typing import Any

from sagemaker_rl.compat.coach_steps import (  # noqa: F401  (re-exported: presets import them from here)
    EnvironmentEpisodes,
    EnvironmentSteps,
    Frames,
    StepMethod,
    Time,
    TrainingSteps,
)

PlayingStepsType = (EnvironmentSteps, EnvironmentEpisodes, Frames)


class GoalTypes(Enum):
    Embedding = 1
    EmbeddingChange = 2
    Observation = 3
    Measurements = 4


Record = namedtuple("Record", ["name", "label"])


class TimeTypes(Enum):
    EpisodeNumber = Record(name="Episode #", label="Episode #")
    TrainingIteration = Record(name="Training Iter", label="Training Iteration")
    EnvironmentSteps = Record(name="Total steps", label="Total steps (per worker)")
    WallClockTime = Record(name="Wall-Clock Time", label="Wall-Clock Time (minutes)")
    Epoch = Record(name="Epoch", label="Epoch #")


class RunPhase(Enum):
    HEATUP = "Heatup"
    TRAIN = "Training"
    TEST = "Testing"
    UNDEFINED = "Undefined"


class GradientClippingMethod(Enum):
    ClipByGlobalNorm = 0
    ClipByNorm = 1
    ClipByValue = 2


class VideoDumpFilter(abc.ABC):
    """Decides which episodes' videos are written (``VisualizationParameters.video_dump_filters``)."""

    @abc.abstractmethod
    def should_dump(self, episode_terminated: bool = False, **kwargs: Any) -> bool:
        """Whether the episode's video is written (each subclass's rule, as in Coach)."""


class AlwaysDumpFilter(VideoDumpFilter):
    """Every episode."""

    def should_dump(self, episode_terminated: bool = False, **kwargs: Any) -> bool:
        return True


class MaxDumpFilter(VideoDumpFilter):
    """Each episode that reaches a new best total reward."""

    def __init__(self) -> None:
        self.max_reward_achieved = float("-inf")

    def should_dump(self, episode_terminated: bool = False, **kwargs: Any) -> bool:
        if not episode_terminated:
            return True
        if kwargs["total_reward_in_current_episode"] > self.max_reward_achieved:
            self.max_reward_achieved = kwargs["total_reward_in_current_episode"]
            return True
        return False


class EveryNEpisodesDumpFilter(VideoDumpFilter):
    """One episode in every ``num_episodes_between_dumps``."""

    def __init__(self, num_episodes_between_dumps: int) -> None:
        if num_episodes_between_dumps < 1:
            raise ValueError("the number of episodes between dumps should be a positive number")
        self.num_episodes_between_dumps = num_episodes_between_dumps
        self.last_dumped_episode = 0


class SelectedPhaseOnlyDumpFilter(VideoDumpFilter):
    """Episodes of the given run phase(s) only."""

    def __init__(self, run_phases: RunPhase | list[RunPhase]) -> None:
        self.run_phases = list(run_phases) if isinstance(run_phases, (list, tuple)) else [run_phases]

    def should_dump(self, episode_terminated: bool = False, **kwargs: Any) -> bool:
        return kwargs["_phase"] in self.run_phases


class CsvDataset:
    """A Batch RL dataset in a CSV file (``memory.load_memory_from_file_path``)."""

    def __init__(self, filepath: str, is_episodic: bool = True) -> None:
        self.filepath = filepath
        self.is_episodic = is_episodic


class PickledReplayBuffer:
    """A replay buffer pickled by Coach (``memory.load_memory_from_file_path``)."""

    def __init__(self, filepath: str) -> None:
        self.filepath = filepath
