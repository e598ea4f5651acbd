"""``rl_coach.memories.non_episodic.experience_replay``: a replay buffer of transitions (Coach's file of the same
name)."""

from __future__ import annotations

from rl_coach.memories.memory import MemoryGranularity, MemoryParameters


class ExperienceReplayParameters(MemoryParameters):
    def __init__(self) -> None:
        super().__init__()
        self.max_size = (MemoryGranularity.Transitions, 1000000)
        self.allow_duplicates_in_batch_sampling = True
