"""``rl_coach.memories.episodic.single_episode_buffer``: the current episode only (it has no ``max_size``)."""

from __future__ import annotations

from rl_coach.memories.memory import MemoryParameters


class SingleEpisodeBufferParameters(MemoryParameters):
    def __init__(self) -> None:
        super().__init__()
        del self.max_size
