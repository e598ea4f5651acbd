"""Messages fit the caller (runtime/errors.py): a value a user gave is cut when huge, and a job SageMaker (or
``docker run``) runs is told apart from one ``rlrt train`` laid out, so that its advice names the estimator. The
jobs: tests/jobs/test_advice_jobs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import container_job, cut_long_values
from runtime.names import CONFIG_DIR, LOCAL_TREE_FILE


def test_a_long_run_is_cut_and_counted_and_the_rest_kept() -> None:
    value = "y" * 10_000
    assert cut_long_values(f"got '{value}' (str). Fix it.") == f"got '{'y' * 199}... (10002 characters) (str). Fix it."
    sentence = "a path /opt/ml/input/data/train/" + "d" * 150 + " stays whole"
    assert cut_long_values(sentence) == sentence


def test_sagemakers_trees_and_variables_are_container_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("SM_")]:
        monkeypatch.delenv(name)
    (tmp_path / "sagemaker" / CONFIG_DIR).mkdir(parents=True)
    (tmp_path / "laptop" / CONFIG_DIR).mkdir(parents=True)
    (tmp_path / "laptop" / LOCAL_TREE_FILE).touch()
    assert container_job(tmp_path / "sagemaker") and container_job(Path("/opt/ml"))
    assert not container_job(tmp_path / "laptop") and not container_job(tmp_path / "no-tree")
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-1")
    assert container_job(tmp_path / "laptop")
