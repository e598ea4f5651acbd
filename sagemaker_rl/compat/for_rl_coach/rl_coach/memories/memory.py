"""``rl_coach.memories.memory``: the base of memory parameters; ``max_size`` is ``(MemoryGranularity, n)``."""

from __future__ import annotations

from enum import Enum

from rl_coach.base_parameters import Parameters


class MemoryGranularity(Enum):
    Transitions = 0
    Episodes = 1


class MemoryParameters(Parameters):
    def __init__(self) -> None:
        self.max_size = None
        self.shared_memory = False
        self.load_memory_from_file_path = None
