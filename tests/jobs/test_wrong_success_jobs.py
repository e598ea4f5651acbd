"""No wrong success: a job that trained on NaN, or wrote a file outside its tree, must not end 0. Each job stops
at once (a few seconds of training at most) and names what was wrong in ``output/failure``, exit 2."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO_ROOT, run_rlrt

TESTS = REPO_ROOT / "tests"


def test_a_nan_reward_stops_the_job_naming_the_env_step_and_value(tmp_path: Path) -> None:
    """Before, the job trained on the NaN (RLlib zeroes NaN gradients, a warning per tensor) and ended 0."""
    base = tmp_path / "job"
    args = ["train", "--base-dir", str(base), "--env", "bad_value_envs:BadValue-v0", "--algo", "PPO",
            "--set", "record_video_every=0", "--set", "rl.training.config.env_config.reward=nan"]
    for setting in ("stop.training_iteration=1", "config.num_env_runners=0", "config.num_envs_per_env_runner=1",
                    "config.train_batch_size_per_learner=64", "config.minibatch_size=64", "config.num_epochs=1"):
        args += ["--set", f"rl.training.{setting}"]
    run = run_rlrt(args, cwd=tmp_path, timeout=300, PYTHONPATH=f"{REPO_ROOT}:{TESTS}")
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    assert (base / "output" / "failure").read_text().startswith(
        "The environment bad_value_envs:BadValue-v0 returned the reward nan on step 5 of one of its envs. Training on "
        "a non-finite reward turns every loss and metric into NaN, so the job stops.")
    assert "nan/inf" not in output and "episode_reward_mean: nan" not in output
    assert not (base / "model" / "policy.onnx").exists()

