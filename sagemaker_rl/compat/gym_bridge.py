"""A gymnasium environment behind the ``gym`` 0.26 interface, for the compatibility modules whose users expect a
``gym`` environment (``roboschool``'s ids, ``gym_unity``'s wrapper). rlrt turns it back into gymnasium with Shimmy
(:func:`envs.adapters.to_gymnasium`), so a user's own gym wrappers in between keep working."""

from __future__ import annotations

from typing import Any

import gym
import gymnasium
import numpy as np


def gym_space(space: gymnasium.Space) -> gym.Space:
    """A gymnasium space as the equivalent ``gym`` space."""
    if isinstance(space, gymnasium.spaces.Box):
        return gym.spaces.Box(
            low=space.low,
            high=space.high,
            shape=space.shape,
            dtype=space.dtype.type if space.dtype is not None else np.float32,
        )
    if isinstance(space, gymnasium.spaces.Discrete):
        return gym.spaces.Discrete(int(space.n), start=int(space.start))
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return gym.spaces.MultiDiscrete(np.asarray(space.nvec), dtype=space.dtype)
    if isinstance(space, gymnasium.spaces.MultiBinary):
        return gym.spaces.MultiBinary(space.n)
    if isinstance(space, gymnasium.spaces.Tuple):
        return gym.spaces.Tuple([gym_space(s) for s in space.spaces])
    if isinstance(space, gymnasium.spaces.Dict):
        return gym.spaces.Dict({k: gym_space(s) for k, s in space.spaces.items()})
    raise TypeError(f"no gym equivalent for the gymnasium space {space}")


class GymnasiumAsGym(gym.Env):
    """A gymnasium environment behind the ``gym`` 0.26 interface (same calls, ``gym`` spaces)."""

    def __init__(self, env: gymnasium.Env) -> None:
        self.env = env
        self.observation_space = gym_space(env.observation_space)
        self.action_space = gym_space(env.action_space)
        self.metadata = dict(env.metadata)
        self.render_mode = env.render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, float(reward), terminated, truncated, info

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()
