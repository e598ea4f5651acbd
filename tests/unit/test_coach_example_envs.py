"""What the public Coach examples' environments do that rlrt had no bridge for, each written here in that era's
style: a gym 0.21 ``seed()`` calling ``seeding.hash_seed`` (the stock trading example), an integer Box action space
(the predictive autoscaling example) and an environment that fails inside RLlib's env runner (whose bare
``RuntimeError`` hid the environment's own error in ``output/failure``)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from envs import adapters
from envs.adapters import as_user_env
from runtime.errors import EXIT_USER_ERROR, run_job
from sagemaker_rl.compat import era


@pytest.fixture
def gym_seeding(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """gym's ``seeding`` module, with what :func:`era.adapt_gym` does to gym taken back afterwards."""
    import gym.envs.registration
    import gym.spaces.box
    import gym.utils.seeding as seeding

    monkeypatch.setattr(adapters, "_SAID", set())
    get_inf, spec_init = gym.spaces.box.get_inf, gym.envs.registration.EnvSpec.__init__
    added = [name for name in era.SEEDING_FUNCTIONS if not hasattr(seeding, name)]
    try:
        yield seeding
    finally:
        for name in added:
            if hasattr(seeding, name):
                delattr(seeding, name)
        gym.spaces.box.get_inf, gym.envs.registration.EnvSpec.__init__ = get_inf, spec_init


def test_a_gym_021_seed_calling_hash_seed_runs(gym_seeding: object, capsys: pytest.CaptureFixture[str]) -> None:
    import gym
    from gym.utils import seeding

    class Trading(gym.Env):  # gym 0.21's style, as the stock trading example's TradingEnv seeds itself
        observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        action_space = gym.spaces.Discrete(3)

        def __init__(self) -> None:
            self.seed()

        def seed(self, seed=None):  # type: ignore[no-untyped-def]
            self.np_random, seed1 = seeding.np_random(seed)
            seed2 = seeding.hash_seed(seed1 + 1) % 2**31
            return [seed1, seed2]

        def reset(self):  # type: ignore[no-untyped-def]
            return np.zeros(3, np.float32)

        def step(self, action):  # type: ignore[no-untyped-def]
            return np.zeros(3, np.float32), 0.0, True, {}

    with pytest.raises(AttributeError, match="hash_seed"):  # the pinned gym refuses it without the bridge
        Trading()
    era.adapt_gym()
    assert "hash_seed" in capsys.readouterr().err
    assert isinstance(Trading().seed(3)[1], int)
    # gym 0.21's values: the SHA-512 of the seed's text, its first 8 bytes little-endian.
    assert seeding.hash_seed(7) == int.from_bytes(hashlib.sha512(b"7").digest()[:8], "little")
    assert seeding.create_seed(2**70 + 5) == 5 and seeding.create_seed("a") > 0


def test_an_integer_box_action_space_acts_with_floats(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gym

    monkeypatch.setattr(adapters, "_SAID", set())
    given = []

    class Scaler(gym.Env):  # the autoscaling example's machines to add and remove
        observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        action_space = gym.spaces.Box(low=0, high=10, shape=(2,), dtype=np.int8)

        def reset(self):  # type: ignore[no-untyped-def]
            return np.zeros(2, np.float32)

        def step(self, action):  # type: ignore[no-untyped-def]
            given.append(action)
            return np.zeros(2, np.float32), float(int(action[0]) - int(action[1])), False, {}

    env = as_user_env(Scaler(), "autoscalesim:Scaler")
    assert env.action_space.dtype == np.float32
    assert list(env.action_space.low) == [0, 0] and list(env.action_space.high) == [10, 10]
    assert "acts in a Box of int8" in capsys.readouterr().err
    env.reset()
    assert env.step(np.array([3.7, 1.2], np.float32))[1] == 2.0
    assert given[0].dtype == np.float32
    from ray.rllib.core.models.catalog import Catalog  # heavy: RLlib, the distribution the module would pick

    assert Catalog._get_dist_cls_from_action_space(env.action_space, framework="torch") is not None


def test_an_error_without_message_is_named_by_its_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failure = tmp_path / "failure"

    def job() -> None:
        try:
            open("/opt/ml/output/data/no-such-folder/episode.npy", "wb")
        except FileNotFoundError as exc:
            raise RuntimeError from exc  # as RLlib's env runner re-raises an environment's error

    # The error comes from code outside rlrt (this test's, as an environment's would): it is the user's, named by
    # the error with a message, where it was raised.
    assert run_job(job, lambda: failure) == EXIT_USER_ERROR
    text = failure.read_text()
    assert text.startswith("Your code raised FileNotFoundError: ") and "episode.npy" in text, text
    assert f"{__file__}, line " in text, text
    assert sys.exc_info() == (None, None, None)
    capsys.readouterr()


SIMULATOR_ENV = """
import subprocess

import gym
import numpy as np


class DataCenter(gym.Env):  # the HVAC example's: its first reset starts EnergyPlus
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config=None):
        self.config = config

    def reset(self):
        subprocess.Popen([self.config["eplus_path"] + "energyplus"])
        return np.zeros(2, np.float32)

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, {}
"""


def test_a_coach_level_whose_first_reset_fails_is_named_before_ray_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gym_seeding: object
) -> None:
    from runtime.errors import UserError
    from sagemaker_rl.coach_levels import register_level

    (tmp_path / "simulator_env.py").write_text(SIMULATOR_ENV)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        UserError,
        match=r"'sagemaker_rl/simulator_env.DataCenter' failed on its first reset: "
        r"FileNotFoundError: .*/no-such-eplus/energyplus",
    ):
        register_level("simulator_env:DataCenter", {"config": {"eplus_path": f"{tmp_path}/no-such-eplus/"}})
    sys.modules.pop("simulator_env", None)
