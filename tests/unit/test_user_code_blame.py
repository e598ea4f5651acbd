"""Whose error is it: every exception raised in the user's code (an environment's reset or step, a module that does
not parse, a launcher's code) ends through run_job as the user's, naming the file, line, function, the environment
method and the value it was given, and what to do; never as "Framework error", which an error rlrt's own code raises
keeps, even under a user's script. One sweep over the surfaces, on real objects and run_job itself."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Callable

import pytest

from runtime.backends.rllib.finite_values import with_finite_values
from runtime.errors import EXIT_FRAMEWORK_ERROR, EXIT_USER_ERROR, run_job
from runtime.user_code import described

USER_ENV = """
import gymnasium as gym
import numpy as np


class Rover(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        if seed == 13:
            raise RuntimeError("the map file is missing")
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return self._drive(action)

    def _drive(self, action):
        return np.zeros(3, np.float32), 1.0, False, False, {"wheel": [0][action]}


def call_rlrt():
    from runtime.errors import cut_long_values
    return cut_long_values(None)
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "rover_env.py").write_text(USER_ENV)
    (tmp_path / "broken_level.py").write_text("import gymnasium\n\n\ndef level(:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("rover_env")
    for name in ("rover_env", "broken_level"):
        sys.modules.pop(name, None)


SEEN: list[str] = []
"""Every failure file the sweep wrote."""


def failure_of(tmp_path: Path, job: Callable[[], object]) -> tuple[int, str]:
    failure = tmp_path / "output" / "failure"
    failure.unlink(missing_ok=True)
    code = run_job(job, lambda: failure)  # type: ignore[arg-type]
    SEEN.append(failure.read_text())
    return code, SEEN[-1]


def test_user_code_surfaces_are_the_users_never_framework_errors(
    tmp_path: Path, user_module, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = str(tmp_path / "rover_env.py")
    # an env's step raising below its own helper, called through rlrt's wrapper as RLlib's env creator builds it
    env = with_finite_values(user_module.Rover(), "rover")
    code, text = failure_of(tmp_path, lambda: env.step(1))
    assert code == EXIT_USER_ERROR, text
    assert text.startswith(
        "Your code raised IndexError: list index out of range\n"
        f"  at {env_file}, line 19, in _drive (the environment's step(action=1)).\n"
        "Fix the environment there"
    ), text
    # reset, with the seed it was given
    code, text = failure_of(tmp_path, lambda: env.reset(seed=13))
    assert code == EXIT_USER_ERROR and f"{env_file}, line 12, in reset (the environment's reset(seed=13, " in text
    # a module (a level, an env module imported by name) that does not parse
    code, text = failure_of(tmp_path, lambda: importlib.import_module("broken_level"))
    assert code == EXIT_USER_ERROR and text.startswith(
        f"Your code raised SyntaxError: invalid syntax\n  at {tmp_path / 'broken_level.py'}, line 4"
    ), text
    # SM_NUM_GPUS asking for a GPU the machine does not show
    from runtime.job import environment
    from tests.conftest import make_job_tree

    tree = make_job_tree(tmp_path / "ml", {})
    monkeypatch.setenv("SM_NUM_GPUS", "1")
    monkeypatch.setattr(environment, "_count_gpus", lambda: 0)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 0)
    code, text = failure_of(tmp_path, lambda: environment.load_environment(tree.base))
    assert code == EXIT_USER_ERROR and text.startswith(
        "The environment variable SM_NUM_GPUS=1 asks for 1 GPU(s), but none is visible on this machine"
    ), text
    # an error a Ray worker raised in the user's env, known to the driver only as its traceback's text
    remote = RuntimeError(
        'Traceback (most recent call last):\n  File "/ray/rllib/env_runner.py", line 9, in sample\n'
        f'  File "{env_file}", line 16, in step\n  File "{env_file}", line 19, in _drive\n'
        "IndexError: list index out of range"
    )
    assert described(remote) == (
        f"RuntimeError: IndexError: list index out of range, at {env_file}, line 19, in "
        "_drive: the environment's step()"
    )
    assert not [text for text in SEEN if "Framework error" in text], SEEN


@pytest.mark.injects_bug
def test_rlrts_own_error_under_a_users_script_stays_a_framework_error(tmp_path: Path, user_module) -> None:
    code, text = failure_of(tmp_path, user_module.call_rlrt)
    assert code == EXIT_FRAMEWORK_ERROR and text.startswith("Framework error: TypeError: "), text
