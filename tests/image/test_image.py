"""The built image under a real Docker engine: `docker run IMAGE train|serve`, script mode, `docker stop`, bad inputs.

These run only when ``RLRT_IMAGE`` names a built image (``scripts/test-image`` builds one and sets it); elsewhere
they are skipped, since the suite does not install or start an engine. The SageMaker SDK's local mode against the
same image is in test_sdk_local_mode.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from runtime.cluster.object_store import DOCKER_SHM_ADVICE
from tests.conftest import REPO_ROOT, JobTree, make_job_tree
from tests.image.containers import docker, serve_and_predict
from tests.image.inputs import RUN_LABEL, TINY_REACHER

IMAGE = os.environ.get("RLRT_IMAGE", "")
pytestmark = pytest.mark.skipif(not IMAGE, reason="RLRT_IMAGE is not set: run scripts/test-image")
RUN = os.environ.setdefault("RLRT_IMAGE_RUN", uuid.uuid4().hex[:12])  # the SDK's driver process inherits it
LABEL = ("--label", f"{RUN_LABEL}={RUN}")
"""On every container a test starts: scripts/test-image removes those, and only those, afterwards."""
DOCKER_DEFAULT_SHM = "--shm-size=64m"
"""A container's /dev/shm unless `docker run --shm-size` says more (named here, so no daemon default changes it)."""
RAY_SHM_WARNING = "The object store is using"
"""The start of Ray's warning about a small /dev/shm (rlrt prints its own line instead)."""

SAGEMAKER_STOP_GRACE_S = 120
"""SageMaker's StopTrainingJob sends SIGTERM, then SIGKILL 120 s later."""


def run_image(
    tree: Path | None, *command: str, extra: tuple[str, ...] = (), timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`docker run --rm [-v TREE:/opt/ml] IMAGE COMMAND...` to completion."""
    mount = ("-v", f"{tree}:/opt/ml") if tree is not None else ()
    return docker("run", "--rm", *LABEL, "--network", "host", *mount, *extra, IMAGE, *command, timeout=timeout)


@pytest.fixture
def container_name() -> Iterator[str]:
    """A unique container name, removed (forcibly) after the test."""
    name = f"rlrt-test-{uuid.uuid4().hex[:8]}"
    yield name
    docker("rm", "-f", name, timeout=60)


def wait_for_log(name: str, text: str, timeout: float) -> str:
    """Poll `docker logs NAME` until ``text`` appears; fail if the container exits first."""
    deadline = time.monotonic() + timeout
    while True:
        logs = docker("logs", name, timeout=60)
        output = logs.stdout + logs.stderr
        if text in output:
            return output
        state = docker("inspect", "-f", "{{.State.Running}}", name, timeout=60).stdout.strip()
        assert state == "true", f"the container exited before printing {text!r}: {output[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s: {output[-3000:]}"
        time.sleep(1)


def assert_readable_by_others(folder: Path) -> None:
    """Every file the container wrote can be read by a host user other than its owner (the container runs as root)."""
    for path in folder.rglob("*"):
        mode = path.stat().st_mode
        assert mode & 0o004, f"{path} is not readable by other users (mode {oct(mode)})"
        if path.is_dir():
            assert mode & 0o001, f"{path} is not searchable by other users (mode {oct(mode)})"


def trained_tree(tmp_path: Path) -> JobTree:
    """Train one tiny iteration with `docker run -v TREE:/opt/ml IMAGE train` and check its outputs; with Docker's
    64 MB of shared memory the log has one rlrt line naming the flag to give, not Ray's warning."""
    tree = make_job_tree(tmp_path / "ml", {**TINY_REACHER, "rl.training.stop.training_iteration": 1})
    run = run_image(tree.base, "train", extra=(DOCKER_DEFAULT_SHM,))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert RAY_SHM_WARNING not in output and output.count(f"docker run {DOCKER_SHM_ADVICE}") == 1, output[-4000:]
    assert "training_iteration: 1" in output and "episode_reward_mean: " in output, output[-3000:]
    assert (tree.model / "policy.onnx").is_file() and (tree.model / "metadata.json").is_file()
    assert_readable_by_others(tree.model)
    return tree


def test_train_then_serve_the_seed_request(tmp_path: Path, container_name: str) -> None:
    tree = trained_tree(tmp_path)
    answer = serve_and_predict(IMAGE, tree.base, container_name, LABEL)
    actions = answer["outputs"]["actions"]
    assert len(actions) == 1 and len(actions[0]) == 2, answer  # Reacher: one 2-D continuous action


def test_script_mode_runs_a_seed_entry_point_from_a_sourcedir_tarball(tmp_path: Path) -> None:
    """What the SDK sets for `RLEstimator(entry_point="train-reacher.py", source_dir=...)` with local code."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(REPO_ROOT / "entrypoints" / "train-reacher.py", source / "train-reacher.py")
    tree = make_job_tree(
        tmp_path / "ml",
        {
            **TINY_REACHER,
            "rl.training.stop.training_iteration": 1,
            "sagemaker_program": "train-reacher.py",
            "sagemaker_submit_directory": "/opt/ml/input/data/code/sourcedir.tar.gz",
        },
    )
    # Not under /opt/ml/code: sagemaker-training extracts the source there only when that folder is empty.
    tree.channel("code").mkdir(parents=True, exist_ok=True)
    with tarfile.open(tree.channel("code") / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(source / "train-reacher.py", arcname="train-reacher.py")
    run = run_image(tree.base, "train", extra=(DOCKER_SHM_ADVICE,))  # docs/SAGEMAKER.md's `docker run` flag
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert RAY_SHM_WARNING not in output and "--shm-size" not in output, output[-4000:]
    assert "rlrt: running the entry point: " in output and "train-reacher.py" in output
    assert "training_iteration: 1" in output
    assert (tree.model / "policy.onnx").is_file()


def test_docker_stop_checkpoints_within_the_grace_and_a_rerun_resumes(tmp_path: Path, container_name: str) -> None:
    tree = make_job_tree(tmp_path / "ml", {**TINY_REACHER, "rl.training.stop.training_iteration": 1000})
    docker("run", "-d", *LABEL, "--name", container_name, "-v", f"{tree.base}:/opt/ml", IMAGE, "train", check=True)
    wait_for_log(container_name, "training_iteration: 1\n", timeout=600)
    started = time.monotonic()
    docker("stop", "-t", str(SAGEMAKER_STOP_GRACE_S), container_name, timeout=SAGEMAKER_STOP_GRACE_S + 60, check=True)
    took = time.monotonic() - started
    logs = docker("logs", container_name)
    output = logs.stdout + logs.stderr
    code = docker("inspect", "-f", "{{.State.ExitCode}}", container_name).stdout.strip()
    assert code == "143", f"exit {code} after {took:.0f} s: {output[-3000:]}"
    assert took < SAGEMAKER_STOP_GRACE_S, f"stopping took {took:.0f} s"
    assert "stopped by SIGTERM" in output, output[-3000:]
    assert list(tree.checkpoints.glob("checkpoint_*")), list(tree.base.rglob("*"))[:50]
    tree.write_hyperparameters({**TINY_REACHER, "rl.training.stop.training_iteration": 4})
    rerun = run_image(tree.base, "train")
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output[-4000:]
    assert "rlrt: resumed from" in output, output[-3000:]
    assert (tree.model / "policy.onnx").is_file()


def test_bad_inputs_end_with_a_clear_message_and_a_non_zero_exit(tmp_path: Path) -> None:
    """No command, an unknown command, a tree without hyperparameters.json, a read-only /opt/ml/model."""
    cases = []
    tree = make_job_tree(tmp_path / "none", {})
    (tree.base / "input" / "config" / "hyperparameters.json").unlink()
    cases.append((run_image(tree.base), tree, "The container needs a command: train, serve"))
    tree = make_job_tree(tmp_path / "unknown", {})
    cases.append((run_image(tree.base, "trian"), tree, "Cannot run 'trian'"))
    tree = make_job_tree(tmp_path / "nohp", {})
    (tree.base / "input" / "config" / "hyperparameters.json").unlink()
    cases.append((run_image(tree.base, "train"), tree, "hyperparameters.json is missing"))
    tree = make_job_tree(tmp_path / "ro", {**TINY_REACHER, "rl.training.stop.training_iteration": 1})
    tree.model.mkdir(parents=True, exist_ok=True)
    ro = run_image(tree.base, "train", extra=("-v", f"{tree.model}:/opt/ml/model:ro"))
    cases.append((ro, tree, "/opt/ml/model"))
    for run, case, message in cases:
        output = run.stdout + run.stderr
        assert run.returncode == 2, f"{case.base.name}: exit {run.returncode}: {output[-3000:]}"
        assert "Traceback" not in output, f"{case.base.name}: {output[-3000:]}"
        assert message in output, f"{case.base.name}: {output[-3000:]}"
        assert message in case.failure.read_text(), case.base.name
