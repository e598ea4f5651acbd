"""The SageMaker Python SDK's local modes (its own docker-compose runners) with the image: SDK 2's `RLEstimator` trains,
deploys and predicts; SDK 3's `ModelTrainer` trains with and without `SourceCode`, and its model serves.

Runs when ``RLRT_IMAGE`` names a built image and ``RLRT_SDK_PYTHON`` / ``RLRT_SDK3_PYTHON`` the SDK environments'
interpreters (``scripts/test-image`` sets them); the SDKs are not in the main lock (requirements/sdk.in says why).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.image.containers import docker, serve_and_predict
from tests.image.inputs import RUN_LABEL

IMAGE = os.environ.get("RLRT_IMAGE", "")
SDK_PYTHON = os.environ.get("RLRT_SDK_PYTHON", "")
SDK3_PYTHON = os.environ.get("RLRT_SDK3_PYTHON", "")
pytestmark = pytest.mark.skipif(not IMAGE, reason="RLRT_IMAGE is not set: run scripts/test-image")


def sdk_env(tmp_path: Path) -> dict[str, str]:
    """The SDK driver's environment: no AWS settings or ~/.aws, ~/.sagemaker configuration from the host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path / "home")
    env.setdefault("RLRT_IMAGE_RUN", uuid.uuid4().hex[:12])  # the label on the SDK 2 containers
    return env


@pytest.mark.skipif(not SDK_PYTHON, reason="RLRT_SDK_PYTHON is not set: run scripts/test-image")
def test_rl_estimator_local_mode_fits_deploys_and_predicts(tmp_path: Path) -> None:
    env = sdk_env(tmp_path)
    try:
        run = subprocess.run(
            [SDK_PYTHON, str(Path(__file__).with_name("sdk_local_mode.py")), IMAGE, str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:  # the SDK leaves its exited training containers: these, and only these, are removed
        made = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={RUN_LABEL}={env['RLRT_IMAGE_RUN']}"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        if made:
            subprocess.run(["docker", "rm", "-f", *made], capture_output=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert "training_iteration: 1" in output and "rlrt: running the entry point: " in output
    assert list((tmp_path / "output").rglob("model.tar.gz")), output[-3000:]
    prediction = json.loads(run.stdout.strip().splitlines()[-1])
    actions = prediction["outputs"]["actions"]
    assert len(actions) == 1 and len(actions[0]) == 2, prediction


@pytest.mark.skipif(not SDK3_PYTHON, reason="RLRT_SDK3_PYTHON is not set: run scripts/test-image")
@pytest.mark.parametrize("how", ["image", "source"])
def test_sdk3_model_trainer_local_container_trains_and_its_model_serves(tmp_path: Path, how: str) -> None:
    """SDK 3 starts the image with no command (`image`), or runs its own driver scripts and the seed's entry point
    (`source`); the hyperparameters nested under `rl` reach the job, and the model.tar.gz it writes serves."""
    root = tmp_path / "sdk3"
    env = sdk_env(tmp_path)
    try:
        run = subprocess.run(
            [SDK3_PYTHON, str(Path(__file__).with_name("sdk3_model_trainer.py")), IMAGE, str(root), how],
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    finally:  # SDK 3 labels nothing of ours: its compose project's containers are the ones under this root
        made = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project.working_dir={root}"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        if made:
            subprocess.run(["docker", "rm", "-f", *made], capture_output=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    if how == "image":
        assert "no command given and /opt/ml/input/config/hyperparameters.json exists" in output, output[-5000:]
    else:
        assert "train-reacher.py" in output and "Running Basic Script driver" in output, output[-5000:]
    assert "training PPO on ReacherBulletEnv-v0 (preset reacher-ppo)" in output, output[-5000:]
    assert "training_iteration >= 1" in output and "training_iteration: 1" in output, output[-5000:]
    assert "timesteps_total: 600" in output, output[-5000:]  # the nested train_batch_size_per_learner reached RLlib
    assert "Traceback" not in output, output[-5000:]
    models = [Path(path) for path in json.loads(run.stdout.strip().splitlines()[-1])]
    assert len(models) == 1, models
    served = tmp_path / "served"
    (served / "model").mkdir(parents=True)
    with tarfile.open(models[0]) as archive:
        archive.extractall(served / "model", filter="data")
    name = f"rlrt-test-{uuid.uuid4().hex[:8]}"
    try:
        answer = serve_and_predict(IMAGE, served, name, ("--label", f"{RUN_LABEL}={env['RLRT_IMAGE_RUN']}"))
    finally:
        docker("rm", "-f", name, timeout=60)
    actions = answer["outputs"]["actions"]
    assert len(actions) == 1 and len(actions[0]) == 2, answer
