"""A camera-like environment: ``Box(0, 255, (10, 10, 3), uint8)`` frames, as gymnasium's Atari and most simulators
give them; RLlib has a default CNN for 10x10 images. Action 1 earns 1, action 0 nothing; 20 steps an episode.

``image_envs:Frames-v0``; ``env_config`` ``shape`` gives frames of another size."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

SHAPE = (10, 10, 3)


class Frames(gym.Env):
    action_space = gym.spaces.Discrete(2)
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = None, shape: Any = SHAPE, **_: Any) -> None:
        self.render_mode = render_mode
        self.shape = tuple(shape)  # env_config's shape: another size of frame
        self.observation_space = gym.spaces.Box(0, 255, self.shape, np.uint8)
        self.t = 0
        self.frame = np.zeros(self.shape, np.uint8)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.frame = self.np_random.integers(0, 256, self.shape, dtype=np.uint8)
        return self.frame, {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        self.frame = self.np_random.integers(0, 256, self.shape, dtype=np.uint8)
        return self.frame, float(action), False, self.t >= 20, {}

    def render(self) -> np.ndarray:
        return self.frame


gym.register("Frames-v0", entry_point=Frames)
