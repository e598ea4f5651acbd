"""A Coach job's ``worker_0.simple_rl_graph.main_level.main_level.agent_0.csv`` beside progress.csv, read as the
Coach notebooks read it (pandas: drop the rows without ``Training Reward`` / ``Evaluation Reward``, plot against
``Episode #``)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd
import pytest

from runtime.evaluate.episodes import EvaluationResult
from runtime.evaluate.evaluator import write_summary
from runtime.train.reporting import IterationMetrics
from sagemaker_rl.coach_csv import report_coach_csv


def progress(intermediate: Path, *iterations: IterationMetrics) -> None:
    intermediate.mkdir(parents=True, exist_ok=True)
    with (intermediate / "progress.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(IterationMetrics)])
        writer.writeheader()
        writer.writerows(asdict(metrics) for metrics in iterations)


def test_the_notebooks_plot_reads_the_training_and_evaluation_rewards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intermediate = tmp_path / "output" / "intermediate"
    progress(
        intermediate,
        IterationMetrics(1, 2048, 3.5, math.nan, math.nan, math.nan, math.nan, 0, 600.0),  # no episode ended
        IterationMetrics(2, 4096, 7.0, 22.5, 60.0, 9.0, 22.5, 91, 600.0),
        IterationMetrics(3, 6144, 10.5, 41.25, 200.0, 10.0, 41.25, 140, 600.0),
    )
    write_summary(EvaluationResult((200.0, 187.0), (200, 187)), "CartPole-v0", intermediate, io.StringIO())
    report_coach_csv(intermediate)
    written = intermediate / "worker_0.simple_rl_graph.main_level.main_level.agent_0.csv"
    assert f"rlrt: Coach's CSV (the columns the Coach notebooks plot): {written}" in capsys.readouterr().out
    df = pd.read_csv(written)
    training = df.dropna(subset=["Training Reward"])
    assert training["Episode #"].tolist() == [91, 140] and training["Training Reward"].tolist() == [22.5, 41.25]
    assert training["Total steps"].tolist() == [4096, 6144] and training["Training Iter"].tolist() == [2, 3]
    evaluation = df.dropna(subset=["Evaluation Reward"])
    assert evaluation["Evaluation Reward"].tolist() == [200.0, 187.0]
    assert evaluation["Episode #"].tolist() == [141, 142] and evaluation["Episode Length"].tolist() == [200, 187]
    training.plot(x="Episode #", y="Training Reward")  # the notebook's cell


def test_no_training_no_file(tmp_path: Path) -> None:
    report_coach_csv(tmp_path)
    assert list(tmp_path.iterdir()) == []
