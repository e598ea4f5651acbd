"""Tiny trained models shared by the serving, export, transform and evaluation tests (trained once per session).

Import the fixtures into a test module (``from tests.trained_models import cartpole_model, tf_python``). Each
model is trained by a real ``rlrt train`` process into a folder under pytest's base temp of the run; a second module
asking for the same model finds it there and does not train again, also on another pytest-xdist worker (a file lock
makes the others wait for the first one's training).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

from tests.conftest import REPO_ROOT, make_job_tree, run_rlrt

CARTPOLE_ARGS = [
    "--set",
    "rl.training.stop.training_iteration=2",
    "--set",
    "rl.training.config.train_batch_size_per_learner=400",
    "--set",
    "rl.training.config.num_envs_per_env_runner=2",
    "--set",
    "rl.training.config.num_epochs=2",
    "--set",
    "rl.training.config.minibatch_size=200",
    "--set",
    "record_video_every=2",
]
REACHER_ARGS = [
    "--preset",
    "reacher-ppo",
    "--set",
    "rl.training.stop.training_iteration=1",
    "--set",
    "rl.training.config.train_batch_size_per_learner=600",
    "--set",
    "rl.training.config.num_envs_per_env_runner=2",
    "--set",
    "rl.training.config.num_epochs=1",
    "--set",
    "rl.training.config.minibatch_size=200",
]


def build_tf_env() -> tuple[str | None, str]:
    """The TensorFlow environment's python (built by scripts/install-tf.sh, cached), or None and why not."""
    try:
        done = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "install-tf.sh")], capture_output=True, text=True, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"scripts/install-tf.sh did not finish: {exc}"
    if done.returncode != 0:
        return None, f"scripts/install-tf.sh failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
    python = Path(done.stdout.strip().splitlines()[-1]) / "bin" / "python"
    return (str(python), "") if python.exists() else (None, f"no python at {python}")


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[str | None, str]:
    """(TensorFlow's python, "") or (None, why it cannot be built here).

    One worker at a time: on a fresh machine the first builds the environment and the others then find it (two
    concurrent builds would each replace the folder while the other's jobs may run from it)."""
    with FileLock(str(run_temp(tmp_path_factory) / "tf-env.lock"), timeout=900):
        return build_tf_env()


@pytest.fixture(scope="session")
def tf_python(tf_env: tuple[str | None, str]) -> str | None:
    """TensorFlow's python, or None when its environment cannot be built here (tests needing it skip)."""
    return tf_env[0]


def run_temp(factory: pytest.TempPathFactory) -> Path:
    """The base temp folder of the whole run: the workers' common parent under pytest-xdist, else the session's."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _train(base: Path, args: list[str], tf: str | None) -> Path:
    done_marker = base / "trained.json"
    with FileLock(str(base) + ".lock", timeout=900):
        if done_marker.exists():
            return base
        tree = make_job_tree(base / "opt" / "ml")
        extra = {"RLRT_TF_PYTHON": tf or ""}
        result = run_rlrt(["train", *args], base=tree.base, timeout=600, **extra)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        done_marker.write_text(json.dumps({"stdout": result.stdout, "stderr": result.stderr}))
    return base


@pytest.fixture(scope="session")
def cartpole_model(tmp_path_factory: pytest.TempPathFactory, tf_python: str | None) -> Path:
    """An /opt/ml tree holding a 2-iteration CartPole PPO model (discrete), with a video at iteration 2 and one of
    its final policy."""
    base = _train(run_temp(tmp_path_factory) / "trained-cartpole", CARTPOLE_ARGS, tf_python)
    return base / "opt" / "ml"


@pytest.fixture(scope="session")
def reacher_model(tmp_path_factory: pytest.TempPathFactory, tf_python: str | None) -> Path:
    """An /opt/ml tree holding a 1-iteration Reacher PPO model (continuous, MeanStdFilter)."""
    base = _train(run_temp(tmp_path_factory) / "trained-reacher", REACHER_ARGS, tf_python)
    return base / "opt" / "ml"


def training_output(tree: Path) -> dict[str, str]:
    """The stdout/stderr of the ``rlrt train`` run that made ``tree``."""
    return json.loads((tree.parent.parent / "trained.json").read_text())
