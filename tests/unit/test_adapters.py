"""Users' old environments as the seeds' scripts write them (envs/adapters.py): a gym 0.21 env without ``seed()``,
one that holds another env and has no ``close()`` (the Unity script's ``UnityEnvWrapper``), and frames for rollout
videos from an env whose creator ignores ``render_mode``."""

from __future__ import annotations

from typing import Any

import gym
import gymnasium
import numpy as np
import pytest

from envs.adapters import to_gymnasium, with_render_mode


class Counter(gym.Env):
    """gym 0.21 style: reset() -> obs; step() -> (obs, reward, done, info); no seed(), no close()."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-10.0, 10.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0
        self.closed = False

    def reset(self) -> np.ndarray:
        self.position = 0
        return np.array([0.0], dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        self.position += 1
        return np.array([self.position], dtype=np.float32), 1.0, self.position >= 3, {}

    def close(self) -> None:
        self.closed = True


class Holder(gym.Env):
    """The Unity script's shape: the real env in ``self.env``, passed through, no close() of its own."""

    def __init__(self) -> None:
        self.env = Counter()
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space

    def reset(self) -> Any:
        return self.env.reset()

    def step(self, action: int) -> Any:
        return self.env.step(action)


def test_a_seedless_old_gym_env_runs_unseeded_and_says_so_once(capsys: pytest.CaptureFixture) -> None:
    env = to_gymnasium(Holder(), "The env creator holder() registered as 'holder'")
    for seed in (1, 2):
        observation, info = env.reset(seed=seed)
        assert observation.tolist() == [0.0] and info == {}
    assert env.step(1)[2:4] == (False, False)
    err = capsys.readouterr().err
    assert err.count("returned an environment without seed() (gym 0.21 API)") == 1
    assert "The env creator holder() registered as 'holder'" in err and "define seed(self, seed)" in err
    env.reset()  # unseeded resets say nothing
    assert capsys.readouterr().err == ""


def test_closing_an_old_env_closes_the_env_it_holds() -> None:
    holder = Holder()
    env = to_gymnasium(holder, "test")
    env.close()
    assert holder.env.closed


def test_an_env_that_ignores_render_mode_renders_rgb_array_frames_when_asked() -> None:
    made = gymnasium.make("CartPole-v1")  # a creator that drops render_mode
    assert made.render_mode is None
    env = with_render_mode(made, "rgb_array")
    assert env.render_mode == "rgb_array"
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
    env.close()
    plain = gymnasium.make("CartPole-v1")
    assert with_render_mode(plain, None) is plain  # nothing asked: unchanged
    asked = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    assert with_render_mode(asked, "rgb_array") is asked  # already renders
