"""Environments that return a non-finite value on a chosen step, for the checks rlrt makes on every training step,
and plain ones shaped like CartPole, for the check that a model plays only the environment it was trained on.

``bad_value_envs:BadValue-v0``: a 3-float observation, two actions, reward 1; on step ``at_step`` (counted from the
first reset of the env) the reward is ``reward`` (e.g. ``nan``) or observation element 1 is ``observation``.
``bad_value_envs:NeverEnds-v0``: shaped like CartPole, an episode that neither terminates nor truncates.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class BadValue(gym.Env):
    observation_space = gym.spaces.Box(-10.0, 10.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, at_step: int = 5, reward: float = 1.0, observation: float = 0.0, **_: Any) -> None:
        self.at_step, self.bad_reward, self.bad_observation = int(at_step), float(reward), float(observation)
        self.steps = 0
        self.t = 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        self.t += 1
        observation = np.zeros(3, np.float32)
        reward = 1.0
        if self.steps == self.at_step:
            reward = self.bad_reward
            observation[1] = self.bad_observation
        return observation, reward, False, self.t >= 20, {}


class Plain(gym.Env):
    """``size`` floats observed, ``actions`` actions, reward 1, ``length`` steps an episode (None: it never ends)."""

    def __init__(self, size: int = 4, actions: int = 2, length: int | None = 10, **_: Any) -> None:
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (size,), np.float32)
        self.action_space = gym.spaces.Discrete(actions)
        self.length = length
        self.t = 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return np.zeros(self.observation_space.shape, np.float32), 1.0, False, self.length == self.t, {}


gym.register("BadValue-v0", entry_point=BadValue, disable_env_checker=True)
gym.register("FourFloats-v0", entry_point=Plain, disable_env_checker=True)
gym.register("FourFloatsThreeActions-v0", entry_point=Plain, kwargs={"actions": 3}, disable_env_checker=True)
gym.register("NeverEnds-v0", entry_point=Plain, kwargs={"length": None}, disable_env_checker=True)
