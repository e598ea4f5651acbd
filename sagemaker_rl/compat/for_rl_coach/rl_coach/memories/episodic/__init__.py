"""``rl_coach.memories.episodic``: replay memories of whole episodes."""

from rl_coach.memories.episodic.episodic_experience_replay import EpisodicExperienceReplayParameters
from rl_coach.memories.episodic.single_episode_buffer import SingleEpisodeBufferParameters

__all__ = ["EpisodicExperienceReplayParameters", "SingleEpisodeBufferParameters"]
