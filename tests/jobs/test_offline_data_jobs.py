"""``rlrt collect`` output format and the offline data loader (seed format, Parquet, folders, every kind of bad
data)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.conftest import run_rlrt


def test_collect_cli_with_batch_transform_predictions(tmp_path: Path) -> None:
    states = tmp_path / "states.jsonl"
    result = run_rlrt(
        ["collect", "--env", "CartPole-v0", "--num-envs", "2", "--dump-states", str(states), "--seed", "1"]
    )
    assert result.returncode == 0, result.stderr
    predictions = tmp_path / "states.jsonl.out"
    predictions.write_text("".join(json.dumps({"predictions": [[1.0, 0.0]]}) + "\n" for _ in range(2)))
    output = tmp_path / "next.csv"
    result = run_rlrt(
        [
            "collect",
            "--env",
            "CartPole-v0",
            "--num-envs",
            "2",
            "--num-episodes",
            "2",
            "--seed",
            "1",
            "--policy-file",
            str(predictions),
            "--output",
            str(output),
        ]
    )
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(output)
    assert (frame["action"] == 0).all() and (frame["all_action_probabilities"] == "[1.0, 0.0]").all()
    assert "episodes" in result.stdout and "mean return" in result.stdout
    # Three predictions for two envs: a clear error, no output file.
    predictions.write_text("".join(json.dumps({"predictions": [[0.5, 0.5]]}) + "\n" for _ in range(3)))
    bad = run_rlrt(
        [
            "collect",
            "--env",
            "CartPole-v0",
            "--num-envs",
            "2",
            "--policy-file",
            str(predictions),
            "--output",
            str(tmp_path / "never.csv"),
        ]
    )
    assert bad.returncode == 2
    assert "3 probability vectors for 2 environments" in bad.stderr
    assert not (tmp_path / "never.csv").exists()
