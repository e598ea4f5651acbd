"""The image's entry point (`docker run IMAGE train|serve|...`) and the Dockerfiles (linted with hadolint)."""

from __future__ import annotations

from pathlib import Path

import pytest

import socket
import time

from runtime.container import TOOLKIT_SKIPS_HOST_WAIT, plan, resolve_hosts
from runtime.errors import UserError
from tests.conftest import make_job_tree


def test_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_job_tree(tmp_path / "ml", {})
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tree.base))
    monkeypatch.setenv(TOOLKIT_SKIPS_HOST_WAIT, "false")  # plan() sets it for script mode; restored afterwards
    assert plan(["train"])[1:] == ["-m", "runtime.cli", "train"]
    # A tuning result under docker run: the arguments after `train` are rlrt train's.
    assert plan(["train", "--hyperparameters", "/opt/ml/best_hyperparameters.json"])[1:] == [
        "-m",
        "runtime.cli",
        "train",
        "--hyperparameters",
        "/opt/ml/best_hyperparameters.json",
    ]
    assert plan(["serve"])[1:] == ["-m", "runtime.cli", "serve"]
    assert plan(["bash", "-c", "true"]) == ["bash", "-c", "true"]
    tree.write_hyperparameters({"sagemaker_program": "train-hopper.py"})
    assert plan(["train"])[1:] == ["-m", "runtime.toolkit"]  # sagemaker-training's `train`, its log made rlrt's
    # No command (SageMaker SDK 3's ModelTrainer): `train` where the tree holds a job's configuration, else refused.
    assert plan([])[1:] == ["-m", "runtime.toolkit"]
    (tree.base / "input" / "config" / "hyperparameters.json").unlink()
    with pytest.raises(UserError, match="needs a command: train, serve.*trains when .*hyperparameters.json"):
        plan([])


def test_a_single_host_needs_no_name_resolution() -> None:
    started = time.monotonic()
    resolve_hosts(["algo-1.invalid"], timeout_s=30)
    assert time.monotonic() - started < 1


def test_resolvable_hosts_pass_and_unresolvable_ones_are_named_after_a_bounded_wait() -> None:
    resolve_hosts([socket.gethostname(), "localhost"], timeout_s=5)
    started = time.monotonic()
    with pytest.raises(UserError, match=r"algo-2\.invalid .* did not resolve within 1 s") as error:
        resolve_hosts(["localhost", "algo-2.invalid"], timeout_s=1)
    assert time.monotonic() - started < 15 and "localhost," not in str(error.value)
