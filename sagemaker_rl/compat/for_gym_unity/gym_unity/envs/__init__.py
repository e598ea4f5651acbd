"""``gym_unity.envs.UnityToGymWrapper``: an ``mlagents_envs`` ``UnityEnvironment`` with one agent as a gym
environment, run by rlrt's own Unity environment (``envs.unity.gym_env.UnityGymEnv``: the same spaces, step and
episode semantics as rlrt's ``Unity`` environment), presented with the interface ML-Agents' ``gym_unity`` had (its
last release, 0.28): gym 0.21's ``reset() -> observation`` and ``step() -> (observation, reward, done, info)``, which
the seeds' scripts pass straight through their own ``gym.Env`` (``UnityEnvWrapper``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gym
import numpy as np

from envs.unity.config import UnityConfig
from envs.unity.gym_env import UnityGymEnv
from envs.unity.session import UnitySession
from sagemaker_rl.compat.gym_bridge import gym_space

Observation = np.ndarray | tuple[np.ndarray, ...]
"""One array, or a tuple of arrays for a behavior with several sensors (as rlrt's ``Unity`` environment gives)."""


class UnityGymException(Exception):
    """gym_unity's error type (raised for what the wrapper does not support)."""


class UnityToGymWrapper(gym.Env):
    """Wrap ``unity_env`` (an ``mlagents_envs.environment.UnityEnvironment`` already started by the script)."""

    metadata = {"render.modes": []}
    """A game run without graphics (``no_graphics=True``, as the seeds start it) has no frames to render."""

    def __init__(
        self,
        unity_env: Any,
        uint8_visual: bool = False,
        flatten_branched: bool = False,
        allow_multiple_obs: bool = False,
        action_space_seed: int | None = None,
    ) -> None:
        if uint8_visual or flatten_branched or allow_multiple_obs:
            raise UnityGymException(
                "rlrt's UnityToGymWrapper supports the defaults only (uint8_visual, "
                "flatten_branched and allow_multiple_obs False)."
            )
        config = UnityConfig.from_mapping({})
        # mlagents_envs 0.28 has no public worker id (docs/ARCHITECTURE.md, "Private APIs we rely on").
        worker_id = int(getattr(unity_env, "_worker_id", 0) or 0)
        session = UnitySession(config, Path("UnityEnvironment"), unity_env, worker_id, None)
        self._env = UnityGymEnv(session=session)
        self.observation_space = gym_space(self._env.observation_space)
        self.action_space = gym_space(self._env.action_space)
        self.reward_range = (-float("inf"), float("inf"))
        if action_space_seed is not None:
            self.action_space.seed(action_space_seed)

    # The installed gym's Env declares gym 0.26's reset and step; this wrapper presents gym 0.21's on purpose (the
    # seeds' scripts pass them straight through), so both overrides differ from the base class's signatures.
    def reset(self) -> Observation:  # type: ignore[override]
        """Start an episode; the first observation."""
        observation: Observation
        observation, _ = self._env.reset()
        return observation

    def step(self, action: Any) -> tuple[Observation, float, bool, dict]:  # type: ignore[override]
        """(observation, reward, done, info); an episode the game cut short says so as gym did
        (``info["TimeLimit.truncated"]``)."""
        observation, reward, terminated, truncated, info = self._env.step(action)
        info = dict(info)
        if truncated and not terminated:
            info["TimeLimit.truncated"] = True
        return observation, float(reward), bool(terminated or truncated), info

    def seed(self, seed: int | None = None) -> list[int | None]:
        """gym 0.21's seeding call: the game seeds itself; the action space takes the seed."""
        self.action_space.seed(seed)
        return [seed]

    def render(self, mode: str = "rgb_array") -> None:
        """No frames: the game runs without graphics."""
        return None

    def close(self) -> None:
        self._env.close()
