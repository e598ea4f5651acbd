"""Fault injection (envs/faults.py) and RLlib restarting crashed env runners in a real training job."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from envs.faults import CrashingEnv, InjectedFault, split_fault_options
from envs.registry import make_env
from tests.conftest import make_job_tree, run_rlrt


def test_the_wrapper_raises_on_the_given_step() -> None:
    env = make_env("CartPole-v1", {"fault_crash_after_steps": 3, "fault_crash_mode": "raise"})
    assert isinstance(env, CrashingEnv)
    env.reset(seed=0)
    env.step(0)
    env.step(0)
    with pytest.raises(InjectedFault, match="after 3 steps"):
        env.step(0)


def test_crashes_are_capped_over_all_processes_by_marker_files(tmp_path: Path) -> None:
    options = {"fault_crash_after_steps": 1, "fault_crash_mode": "raise", "fault_max_crashes": 2,
               "fault_marker_dir": str(tmp_path / "markers")}
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


@pytest.mark.slow
def test_a_crashing_env_runner_is_restarted_and_training_completes(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    tree = make_job_tree(tmp_path / "ml", {
        "rl.training.stop.timesteps_total": 1000,
        "rl.training.config.train_batch_size": 200,
        "rl.training.config.sgd_minibatch_size": 100,
        "rl.training.config.num_sgd_iter": 1,
        "rl.training.config.num_envs_per_worker": 1,
        "rl.training.config.num_workers": 1,
        "rl.training.config.delay_between_env_runner_restarts_s": 0.5,
        # The env runner's process dies (os._exit) on its 150th step, once in the whole job.
        "rl.training.config.env_config.fault_crash_after_steps": 150,
        "rl.training.config.env_config.fault_max_crashes": 1,
        "rl.training.config.env_config.fault_marker_dir": str(markers),
    })
    run = run_rlrt(["train"], base=tree.base)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    assert (markers / "crash-0").is_file(), "the fault was never injected"
    # The crash was seen, the runner came back, and it sampled again: the stop criterion is in env steps, which
    # only a restarted runner can deliver (the job has one).
    assert "0 of 1 env runners healthy" in run.stdout, log[-5000:]
    assert "all 1 env runners healthy again" in run.stdout, log[-5000:]
    assert re.search(r"^rlrt: done \(timesteps_total \d+ >= 1000\)", run.stdout, re.M), log[-5000:]
    assert (tree.model / "checkpoint").is_dir() and not tree.failure.exists()
