"""The SageMaker Python SDK's local mode (its own docker-compose runner) trains, deploys and predicts with the image.

Runs when ``RLRT_IMAGE`` names a built image and ``RLRT_SDK_PYTHON`` the SDK environment's interpreter
(``scripts/test-image`` sets both); the SDK is not in the main lock (requirements/sdk.in says why).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.image.inputs import RUN_LABEL

IMAGE = os.environ.get("RLRT_IMAGE", "")
SDK_PYTHON = os.environ.get("RLRT_SDK_PYTHON", "")
pytestmark = pytest.mark.skipif(not (IMAGE and SDK_PYTHON),
                                reason="RLRT_IMAGE / RLRT_SDK_PYTHON are not set: run scripts/test-image")


def test_rl_estimator_local_mode_fits_deploys_and_predicts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path / "home")  # no ~/.aws or ~/.sagemaker configuration from the host
    env.setdefault("RLRT_IMAGE_RUN", uuid.uuid4().hex[:12])  # the label on the SDK's containers
    try:
        run = subprocess.run([SDK_PYTHON, str(Path(__file__).with_name("sdk_local_mode.py")), IMAGE, str(tmp_path)],
                             env=env, capture_output=True, text=True, timeout=1500)
    finally:  # the SDK leaves its exited training containers: these, and only these, are removed
        made = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={RUN_LABEL}={env['RLRT_IMAGE_RUN']}"],
                              capture_output=True, text=True, timeout=60).stdout.split()
        if made:
            subprocess.run(["docker", "rm", "-f", *made], capture_output=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert "training_iteration: 1" in output and "rlrt: running the entry point: " in output
    assert list((tmp_path / "output").rglob("model.tar.gz")), output[-3000:]
    prediction = json.loads(run.stdout.strip().splitlines()[-1])
    actions = prediction["outputs"]["actions"]
    assert len(actions) == 1 and len(actions[0]) == 2, prediction
