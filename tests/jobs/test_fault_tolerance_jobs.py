"""Fault injection (envs/faults.py) and RLlib restarting crashed env runners in a real training job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_job_tree, run_rlrt


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
