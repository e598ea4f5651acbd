"""User environments of the gym 0.21 / 0.26 and NumPy 1 era run unchanged (:mod:`sagemaker_rl.compat.era`,
:func:`envs.adapters.with_float32_observations`): each bridge checked on an environment written in that style
(tests/era_envs.py) and on the knapsack example's own module, and checked to be needed (the pinned gym and NumPy
refuse each without it)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import gymnasium
import numpy as np
import pytest

from envs.adapters import to_gymnasium, with_float32_observations
from sagemaker_rl.compat import era

KNAPSACK_SRC = Path(__file__).resolve().parents[3] / "shared" / "coach" / "rl_knapsack_coach_custom" / "src"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def era_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``era.install()`` in this process, undone afterwards (other tests see the pinned NumPy and gym)."""
    import gym.envs.registration
    import gym.spaces.box

    get_inf, spec_init = gym.spaces.box.get_inf, gym.envs.registration.EnvSpec.__init__
    monkeypatch.delenv(era.MARKER, raising=False)
    monkeypatch.setattr(era, "_said", set())
    provided = [name for name in era.NUMPY1_NAMES if name not in vars(np)]
    era.install()
    try:
        yield
    finally:
        for name in provided:
            if name in vars(np):
                delattr(np, name)
        gym.spaces.box.get_inf, gym.envs.registration.EnvSpec.__init__ = get_inf, spec_init
        sys.modules.pop("tests.era_envs", None)
        os.environ.pop(era.MARKER, None)


def test_the_pinned_numpy_and_gym_refuse_what_the_era_wrote() -> None:
    import gym.envs.registration

    with pytest.raises(AttributeError, match="no attribute 'int'"):
        np.int  # noqa: B018
    with pytest.raises(ValueError, match="Unknown dtype .*uint32.* for infinite bounds"):
        gym.spaces.Box(low=np.zeros(2), high=np.array([1.0, np.inf]), dtype=np.uint32)
    with pytest.raises(TypeError, match="entry_point"):
        gym.envs.registration.EnvSpec("EraKnapsack-v0")


def test_numpy1_names_are_numpy_123s(capsys: pytest.CaptureFixture[str], era_installed: None) -> None:
    assert np.int is int and np.float is float and np.object is object and np.str is str  # type: ignore[attr-defined]
    assert np.bool8 is np.bool_ and np.float_ is np.float64 and np.NaN != np.NaN  # type: ignore[attr-defined]
    assert np.bool is np.bool_ and np.long is not int  # NumPy 2's own names untouched
    assert "rlrt: NumPy 1 names NumPy 2 removed (np.int, np.float" in capsys.readouterr().err


def test_a_gym_021_env_with_uint32_infinite_bounds_and_no_entry_point_runs(
        capsys: pytest.CaptureFixture[str], era_installed: None) -> None:
    era_envs = importlib.import_module("tests.era_envs")
    env = with_float32_observations(to_gymnasium(era_envs.EraKnapsack({}), "EraKnapsack"), "EraKnapsack")
    assert env.observation_space == gymnasium.spaces.Box(
        np.zeros(4, np.float32), np.array([30, 2**32 - 3, 10, 20], np.float32), (4,), np.float32)
    observation, _ = env.reset(seed=3)
    assert observation.dtype == np.float32 and observation in env.observation_space
    total, done = 0.0, False
    while not done:
        observation, reward, terminated, truncated, info = env.step(1)
        total, done = total + reward, terminated or truncated
    assert observation.dtype == np.float32 and 0 < total <= 30 and info["dtype"] is float
    err = capsys.readouterr().err
    assert "rlrt: a gym.spaces.Box of uint32 with infinite bounds" in err
    assert "rlrt: gym EnvSpec('EraKnapsack-v0') without entry_point" in err
    assert "rlrt: EraKnapsack observes a Box of uint32: its observations are cast to float32" in err
    assert "RuntimeWarning" not in err


def test_a_gym_026_env_with_int16_observations_feeds_float32() -> None:
    import gym

    class Counter(gym.Env):
        observation_space = gym.spaces.Box(-100, 100, shape=(3,), dtype=np.int16)
        action_space = gym.spaces.Discrete(3)

        def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
            return np.zeros(3, np.int16), {}

        def step(self, action):  # type: ignore[no-untyped-def]
            return np.ones(3, np.int16), 1.0, False, True, {}

    env = with_float32_observations(to_gymnasium(Counter(), "Counter"), "Counter")
    assert env.observation_space.dtype == np.float32 and env.reset()[0].dtype == np.float32
    assert env.step(0)[0].dtype == np.float32
    plain = gymnasium.make("CartPole-v1")
    assert isinstance(with_float32_observations(gymnasium.make("FrozenLake-v1"), "x"), gymnasium.Env)
    assert with_float32_observations(plain, "CartPole").observation_space == plain.observation_space


def test_the_knapsack_examples_own_env_runs(tmp_path: Path) -> None:
    """The SageMaker RL knapsack example's module, byte for byte (a Box of uint32 with an infinite bound)."""
    if not KNAPSACK_SRC.is_dir():
        pytest.skip(f"{KNAPSACK_SRC} is not here")
    shutil.copytree(KNAPSACK_SRC, tmp_path / "src")
    code = ("import knapsack_env\nfrom sagemaker_rl.compat import era; era.install()\n"
            "from envs.adapters import to_gymnasium, with_float32_observations\n"
            "env = with_float32_observations(to_gymnasium(knapsack_env.KnapSackEnv(), 'k'), 'k')\n"
            "obs, _ = env.reset(seed=1); obs, r, term, trunc, _ = env.step(1)\n"
            "print('ok', obs.dtype, env.observation_space.dtype)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path / "src")])}
    env.pop(era.MARKER, None)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "src", env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ok float32 float32" in run.stdout
