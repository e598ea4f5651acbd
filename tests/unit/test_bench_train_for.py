"""``bench/train_for.py`` reads the greedy episodes back from the ``evaluation.json`` that ``rlrt evaluate`` writes
(found by ``bench/common.greedy_episodes``) and says which were cut short (a walker's fall) apart from the full-length
ones."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.evaluate.episodes import EvaluationResult
from runtime.evaluate.evaluator import write_summary

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_the_greedy_episodes_cut_short_are_listed_apart(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "train_for", raising=False)
    monkeypatch.delitem(sys.modules, "common", raising=False)
    from common import greedy_episodes  # type: ignore[import-not-found]
    from train_for import episode_spread  # type: ignore[import-not-found]

    result = EvaluationResult(returns=(2700.0, 603.4, 2690.0, 2326.2), lengths=(1000, 235, 1000, 862))
    # Where `rlrt evaluate` writes it in the tree greedy_return evaluates in.
    write_summary(
        result, "HopperBulletEnv-v0", tmp_path / "evaluation" / "output" / "intermediate", stream=io.StringIO()
    )
    assert episode_spread(greedy_episodes(tmp_path)) == (
        "greedy episodes: 2 of 4 ran the longest length (1000 steps; mean return 2695); "
        "shorter: 603 in 235 steps, 2326 in 862 steps; the mean's standard error 500"
    )
    # The standard error computed independently: the sample standard deviation over the root of the count.
    assert round(float(np.std([2700.0, 603.4, 2690.0, 2326.2], ddof=1)) / 2) == 500
