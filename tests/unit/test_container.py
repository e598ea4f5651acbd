"""The image's entry point (`docker run IMAGE train|serve|...`) and the Dockerfiles (linted with hadolint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.container import plan
from runtime.errors import UserError
from tests.conftest import make_job_tree


def test_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_job_tree(tmp_path / "ml", {})
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tree.base))
    assert plan(["train"])[1:] == ["-m", "runtime.cli", "train"]
    assert plan(["serve"])[1:] == ["-m", "runtime.cli", "serve"]
    assert plan(["bash", "-c", "true"]) == ["bash", "-c", "true"]
    tree.write_hyperparameters({"sagemaker_program": "train-hopper.py"})
    assert Path(plan(["train"])[0]).name == "train"  # sagemaker-training's own `train`
    with pytest.raises(UserError):
        plan([])


