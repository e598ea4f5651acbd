"""``rl_coach.memories.non_episodic``: replay memories of transitions."""

from rl_coach.memories.non_episodic.experience_replay import ExperienceReplayParameters

__all__ = ["ExperienceReplayParameters"]
