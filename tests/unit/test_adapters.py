"""Users' old environments as the seeds' scripts write them (envs/adapters.py): a gym 0.21 env without ``seed()``,
one that holds another env and has no ``close()`` (the Unity script's ``UnityEnvWrapper``), and frames for rollout
videos from an env whose creator ignores ``render_mode``."""

from __future__ import annotations

from typing import Any

import gym
import gymnasium
import numpy as np
import pytest

from envs import adapters
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


def test_a_seedless_old_gym_env_runs_unseeded_and_says_so_once(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapters, "_SAID", set())  # the once-per-process lines, said afresh here
    env = to_gymnasium(Holder(), "The env creator holder() registered as 'holder'")
    for seed in (1, 2):
        observation, info = env.reset(seed=seed)
        assert observation.tolist() == [0.0] and info == {}
    assert env.step(1)[2:4] == (False, False)
    err = capsys.readouterr().err
    assert err.count("returned an environment without seed() (gym 0.21 API)") == 1
    assert "The env creator holder() registered as 'holder'" in err and "define seed(self, seed)" in err
    env.reset()  # unseeded resets say nothing
    # Another copy from the same creator (an env runner steps several) says nothing more in this process.
    to_gymnasium(Holder(), "The env creator holder() registered as 'holder'").reset(seed=3)
    assert "without seed()" not in capsys.readouterr().err
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


class BinCounts(Counter):
    """An old gym env whose ``info`` is keyed by ints (bins counted by size, as the bin-packing example's), with a
    ``seed()``; gym let ``info`` keys be anything."""

    def seed(self, seed: int | None = None) -> list[int | None]:
        return [seed]

    def step(self, action: int) -> tuple[np.ndarray, float, bool, dict]:
        observation, reward, done, _ = super().step(action)
        return observation, reward, done, {2: self.position, 3: 0, "level": 1}


def test_an_old_envs_info_keys_become_strings_as_gymnasiums_vector_envs_need() -> None:
    env = to_gymnasium(BinCounts(), "test")
    env.reset(seed=0)
    info = env.step(0)[4]
    assert info == {"2": 1, "3": 0, "level": 1}
    # RLlib 2.x steps envs through gymnasium's vector envs, whose info handling needs string keys.
    vector = gymnasium.vector.SyncVectorEnv([lambda: to_gymnasium(BinCounts(), "test")])
    vector.reset(seed=0)
    assert vector.step(np.array([0]))[4]["2"].tolist() == [1]
    vector.close()


class Masked(gymnasium.Env):
    """Discrete actions with an ``action_mask`` beside the observation entries ``rest`` (the SageMaker RL examples'
    convention)."""

    def __init__(self, rest: dict[str, gymnasium.spaces.Space]) -> None:
        self.action_space = gymnasium.spaces.Discrete(3)
        self.observation_space = gymnasium.spaces.Dict(
            {"action_mask": gymnasium.spaces.Box(0, 1, (3,), np.int8), **rest}
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return {"action_mask": np.array([1, 0, 1], np.int8), "pos": np.array([0.5, -0.5]), "gear": 1}, {}


def test_an_action_mask_beside_several_entries_becomes_the_uniform_form() -> None:
    from envs.action_masks import with_action_mask

    env = with_action_mask(Masked({"pos": gymnasium.spaces.Box(-1.0, 1.0, (2,)), "gear": gymnasium.spaces.Discrete(2)}))
    obs, _ = env.reset(seed=0)
    assert env.observation_space["observations"].shape == (4,)  # gear one-hot (2) then pos (2): keys in sorted order
    assert obs["action_mask"].dtype == np.float32 and obs["action_mask"].tolist() == [1.0, 0.0, 1.0]
    assert obs["observations"].dtype == np.float32 and obs["observations"].tolist() == [0.0, 1.0, 0.5, -0.5]


def test_an_action_mask_beside_a_space_of_no_fixed_size_is_refused_by_name() -> None:
    from envs.action_masks import with_action_mask
    from envs.errors import EnvConfigError

    space = gymnasium.spaces.Sequence(gymnasium.spaces.Box(-1.0, 1.0, (2,)))
    with pytest.raises(EnvConfigError, match="do not flatten into a fixed-size vector"):
        with_action_mask(Masked({"pos": space, "gear": gymnasium.spaces.Discrete(2)}))
