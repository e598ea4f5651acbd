"""``rl_coach.memories.episodic.episodic_experience_replay``: a replay buffer of episodes (Coach's file of the same
name); ``train_to_eval_ratio`` below 1 keeps episodes apart for off-policy evaluation (Batch RL)."""

from __future__ import annotations

from rl_coach.memories.memory import MemoryGranularity, MemoryParameters


class EpisodicExperienceReplayParameters(MemoryParameters):
    def __init__(self) -> None:
        super().__init__()
        self.max_size = (MemoryGranularity.Transitions, 1000000)
        self.n_step = -1
        self.train_to_eval_ratio = 1
