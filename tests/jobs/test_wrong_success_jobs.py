"""No wrong success: a job that trained on NaN, or wrote a file outside its tree, must not end 0. Each job stops
at once (a few seconds of training at most) and names what was wrong in ``output/failure``, exit 2."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.conftest import REPO_ROOT, make_job_tree, rlrt_env, run_rlrt

TESTS = REPO_ROOT / "tests"


def test_a_nan_reward_stops_the_job_naming_the_env_step_and_value(tmp_path: Path) -> None:
    """Before, the job trained on the NaN (RLlib zeroes NaN gradients, a warning per tensor) and ended 0."""
    base = tmp_path / "job"
    args = [
        "train",
        "--base-dir",
        str(base),
        "--env",
        "bad_value_envs:BadValue-v0",
        "--algo",
        "PPO",
        "--set",
        "record_video_every=0",
        "--set",
        "rl.training.config.env_config.reward=nan",
    ]
    for setting in (
        "stop.training_iteration=1",
        "config.num_env_runners=0",
        "config.num_envs_per_env_runner=1",
        "config.train_batch_size_per_learner=64",
        "config.minibatch_size=64",
        "config.num_epochs=1",
    ):
        args += ["--set", f"rl.training.{setting}"]
    run = run_rlrt(args, cwd=tmp_path, timeout=300, PYTHONPATH=f"{REPO_ROOT}:{TESTS}")
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    assert (
        (base / "output" / "failure")
        .read_text()
        .startswith(
            "The environment bad_value_envs:BadValue-v0 returned the reward nan on step 5 of one of its envs. "
            "Training on a non-finite reward turns every loss and metric into NaN, so the job stops."
        )
    )
    assert "nan/inf" not in output and "episode_reward_mean: nan" not in output
    assert not (base / "model" / "policy.onnx").exists()


def test_a_source_archive_member_outside_the_tree_is_refused(tmp_path: Path) -> None:
    """``../../../escaped.py`` in ``sourcedir.tar.gz``: sagemaker-training extracts with no filter, so it was written
    outside the job's code folder and the job went on."""
    archive = tmp_path / "upload" / "sourcedir.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train.py", "../../../escaped.py"):
            data = b"print('ran')\n"
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    host = socket.gethostname()
    tree = make_job_tree(
        tmp_path / "a" / "b" / "ml",
        {"sagemaker_program": "train.py", "sagemaker_submit_directory": str(archive)},
        hosts=[host],
        current_host=host,
    )
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    assert tree.failure.read_text().startswith(
        f"The source archive {archive} holds the member '../../../escaped.py', which points outside the folder: "
        "sagemaker-training would write it outside the job's code folder, so the job does not start."
    )
    assert not list(tmp_path.rglob("escaped.py")) and "ran" not in run.stdout
