"""Fault injection (envs/faults.py) and RLlib restarting crashed env runners in a real training job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envs.faults import CrashingEnv, InjectedFault, split_fault_options
from envs.registry import make_env


def test_the_wrapper_raises_on_the_given_step() -> None:
    env = make_env("CartPole-v1", {"fault_crash_after_steps": 3, "fault_crash_mode": "raise"})
    assert isinstance(env, CrashingEnv)
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    with pytest.raises(InjectedFault, match="after 3 steps"):
        env.step(0)


def test_crashes_are_capped_over_all_processes_by_marker_files(tmp_path: Path) -> None:
    options = {
        "fault_crash_after_steps": 1,
        "fault_crash_mode": "raise",
        "fault_max_crashes": 2,
        "fault_marker_dir": str(tmp_path / "markers"),
    }
    crashed = 0
    for _ in range(4):  # four "processes" (env instances) share the budget of two crashes
        env = make_env("CartPole-v1", options)
        env.reset(seed=0)
        try:
            env.step(0)
        except InjectedFault:
            crashed += 1
    assert crashed == 2
    assert sorted(p.name for p in (tmp_path / "markers").iterdir()) == ["crash-0", "crash-1"]
    assert (tmp_path / "markers" / "crash-0").read_text().strip() == str(os.getpid())


def test_without_fault_keys_the_environment_is_not_wrapped() -> None:
    assert not isinstance(make_env("CartPole-v1", {"max_episode_steps": 10}), CrashingEnv)
    faults, rest = split_fault_options({"fault_crash_after_steps": 5, "max_episode_steps": 10})
    assert faults == {"fault_crash_after_steps": 5} and rest == {"max_episode_steps": 10}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fault_crash_after_steps": 0}, "fault_crash_after_steps must be an integer >= 1"),
        ({"fault_crash_after_steps": 5, "fault_crash_mode": "segv"}, "fault_crash_mode must be 'exit' or 'raise'"),
        ({"fault_crash_after_steps": 5, "fault_max_crashes": 1}, "fault_max_crashes needs fault_marker_dir"),
        ({"fault_crash_mode": "exit"}, "fault injection needs fault_crash_after_steps"),
    ],
)
def test_bad_fault_options_are_rejected(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_env("CartPole-v1", options)
