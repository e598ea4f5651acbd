"""The closing "rlrt: outputs:" lines of a local job name only what the job wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.job.environment import load_environment
from runtime.train.job import outputs_summary
from tests.conftest import make_job_tree


def test_the_summary_names_only_what_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_job_tree(tmp_path / "ml")
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tree.base))  # load_environment points it at the tree
    env = load_environment(tree.base)
    assert outputs_summary(env) == "rlrt: outputs:"  # nothing written yet: nothing promised
    for path in (
        env.model_dir / "metadata.json",
        env.checkpoint_dir / "checkpoint_000001" / "state.json",
        env.intermediate_dir / "progress.csv",
        env.tensorboard_dir / "events.out.tfevents.1",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    lines = outputs_summary(env).splitlines()
    assert lines == [
        "rlrt: outputs:",
        f"  model (checkpoint, config, metadata): {env.model_dir}",
        f"  checkpoints: {env.checkpoint_dir}",
        f"  progress.csv: {env.intermediate_dir}",
        f"  TensorBoard: {env.tensorboard_dir}",
    ]  # no episode ended: no learning curve was drawn
    (env.intermediate_dir / "learning_curve.png").write_bytes(b"png")
    assert f"  progress.csv, learning_curve.png: {env.intermediate_dir}" in outputs_summary(env).splitlines()
