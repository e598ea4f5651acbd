"""Fault injection (envs/faults.py) and RLlib restarting crashed env runners in a real training job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_job_tree, run_rlrt


@pytest.mark.slow
def test_a_crashing_env_runner_is_restarted_and_training_completes(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    tree = make_job_tree(
        tmp_path / "ml",
        {
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
        },
    )
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


SLOW = {
    "rl.training.config.env_config.fault_step_delay_s": 0.01,  # ~100 steps/s: 400 steps take ~4 s
    "rl.training.config.train_batch_size_per_learner": 400,
    "rl.training.config.minibatch_size": 100,
    "rl.training.config.num_envs_per_env_runner": 1,
    # A remote env runner: only its sample() calls have a timeout (on two CPUs the driver would sample itself).
    "rl.training.config.num_env_runners": 1,
    "rl.training.stop.episode_reward_mean": 10_000,
}
STARVED = re.compile(
    r"^rlrt: warning: iteration (\d+) sampled no environment steps: the env runners returned nothing "
    r"within sample_timeout_s=([\d.]+) s; the environment steps at about ([\d.]+) steps/s",
    re.M,
)


def test_a_slow_environment_with_the_users_timeout_carries_on_with_advice(tmp_path: Path) -> None:
    """RLlib returns no samples within the user's 1-s timeout: every iteration says so (with the measured speed and
    the setting to raise); none ends the training loop, and no metric is computed from the missing numbers. A job
    that sampled nothing at all has no trained model: it fails at the end (exit 0 promises one)."""
    tree = make_job_tree(
        tmp_path / "ml", {**SLOW, "rl.training.config.sample_timeout_s": 1, "rl.training.stop.training_iteration": 2}
    )
    result = run_rlrt(["train"], base=tree.base, timeout=240)
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert tree.failure.read_text().startswith("No training happened: 2 iteration(s) took 0 steps")
    assert not (tree.model / "metadata.json").exists()
    starved = STARVED.findall(result.stdout)
    assert [i for i, _, _ in starved] == ["1", "2"] and {t for _, t, _ in starved} == {"1"}
    assert all(30 < float(speed) < 150 for _, _, speed in starved), starved
    assert "Raise rl.training.config.sample_timeout_s" in result.stdout
    assert "env_steps_per_s: " not in result.stdout and "nan" not in result.stdout.lower()


def test_a_slow_environment_gets_a_timeout_sized_from_its_speed(tmp_path: Path) -> None:
    """The timeout came from the preset, not the user: rlrt sizes it from the measured speed, and the next
    iterations get their samples."""
    preset = tmp_path / "slow-cartpole.yaml"
    preset.write_text(
        "name: slow-cartpole\nenv: CartPole-v1\nalgorithm: PPO\nconfig:\n  sample_timeout_s: 1\n"
        "stop:\n  training_iteration: 3\n"
        "pass_bar: {metric: episode_reward_mean, value: 0, source: a test}\n"
    )
    tree = make_job_tree(tmp_path / "ml", {**SLOW, "preset": str(preset)})
    result = run_rlrt(["train"], base=tree.base, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    starved = STARVED.findall(result.stdout)
    assert starved and starved[0][0] == "1", result.stdout[-3000:]
    raised = float(re.search(r"rlrt raises sample_timeout_s to ([\d.]+) s", result.stdout).group(1))
    assert 10 < raised < 60  # 2 x (400 steps at ~100 steps/s) + 10 s
    totals = [int(t) for t in re.findall(r"^timesteps_total: (\d+)", result.stdout, re.M)]
    assert totals[-1] >= 400 and len(starved) < 3
