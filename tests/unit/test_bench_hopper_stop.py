"""``bench/hopper_stop_vs_sb3.py`` reads each side's median time to the seed's stop with an SB3 run that did not stop
within its budget counted at the budget, so a median over such runs is only a lower bound, and an rlrt run that did
not stop counted as never stopping, so no ratio is read when rlrt's median run did not stop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _side(reached: float | None, budget: float, greedy: float) -> dict[str, Any]:
    return {"reached_s": reached, "process_s": 0.0, "steps": 0, "greedy": greedy, "budget_s": budget}


@pytest.fixture()
def summary(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "hopper_stop_vs_sb3", raising=False)
    monkeypatch.delitem(sys.modules, "common", raising=False)
    from hopper_stop_vs_sb3 import summary

    return summary


def test_a_side_that_misses_counts_at_its_budget_and_makes_the_ratio_a_lower_bound(summary: Any) -> None:
    entries = {
        "0": {"rlrt": _side(600.0, 3600.0, 2600.0), "SB3": _side(None, 720.0, 900.0)},
        "1": {"rlrt": _side(480.0, 3600.0, 2500.0), "SB3": _side(500.0, 576.0, 2550.0)},
        # Reached just after its budget (the process outlived the training budget): a miss.
        "2": {"rlrt": _side(1300.0, 3600.0, 2300.0), "SB3": _side(1570.0, 1560.0, 700.0)},
    }
    lines, result = summary(entries)
    # By hand: rlrt's times 600, 480, 1300 -> median 600 s = 10.0 min, all stopped, one after 20 minutes; SB3's
    # 720 (its budget), 500, 1560 (its budget) -> median 720 s = 12.0 min, a lower bound: the ratio is at least
    # 720 / 600 = 1.20.
    assert result == ("rlrt 10.0 min (3/3), greedy 2500; SB3 >= 12.0 min (1/3), greedy 900: >= 1.20 (seeds 0, 1, 2)")
    assert "rlrt stopped within the seed's 20 minutes on 2 of 3 seeds" in lines


def test_an_rlrt_run_that_did_not_stop_counts_as_never(summary: Any) -> None:
    entries = {"4": {"rlrt": _side(None, 3600.0, 2000.0), "SB3": _side(None, 3000.0, 800.0)}}
    assert summary(entries)[1] == (
        "rlrt never (0/1), greedy 2000; SB3 >= 50.0 min (0/1), greedy 800: "
        "no ratio, rlrt's median seed did not stop (seed 4)"
    )
    # One miss of three: rlrt's median is the larger of its two stops, exactly (600 s), not a bound.
    entries |= {
        "5": {"rlrt": _side(600.0, 3600.0, 2600.0), "SB3": _side(None, 720.0, 900.0)},
        "6": {"rlrt": _side(480.0, 3600.0, 2500.0), "SB3": _side(None, 576.0, 850.0)},
    }
    assert summary(entries)[1] == (
        "rlrt 10.0 min (2/3), greedy 2500; SB3 >= 12.0 min (0/3), greedy 850: >= 1.20 (seeds 4, 5, 6)"
    )
