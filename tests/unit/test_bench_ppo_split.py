"""``bench/ppo_split.py`` recovers each iteration's own seconds from RLlib's timers, which RLlib reports as an
exponential moving average over iterations: checked against the values fed to RLlib's own ``MetricsLogger``."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_each_iterations_seconds_come_back_from_rllibs_averaged_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "ppo_split", raising=False)
    from ppo_split import this_iterations  # type: ignore[import-not-found]

    # The algorithm times its phases with log_time, whose default reduction is this moving average.
    assert inspect.signature(MetricsLogger.log_time).parameters["reduce"].default == "ema"
    logger = MetricsLogger()
    seconds = [4.0, 2.0, 3.5, 2.25, 2.3]
    recovered, before = [], {}
    for value in seconds:
        logger.log_value(("timers", "learner_update_timer"), value, reduce="ema")
        timers = {key: float(stats.peek()) for key, stats in logger.reduce()["timers"].items()}
        if before:  # averaged: not the iteration's own value
            assert timers["learner_update_timer"] != pytest.approx(value)
        recovered.append(this_iterations(timers, before)["learner_update_timer"])
        before = timers
    assert recovered == pytest.approx(seconds, abs=1e-9)
