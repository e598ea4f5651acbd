"""The start-up timeline (runtime.timings): printed only with RLRT_TIMINGS=1, seconds since the process started."""

from __future__ import annotations

import time

import psutil
import pytest

from runtime import timings


def test_seconds_are_counted_from_the_process_start() -> None:
    age = time.time() - psutil.Process().create_time()
    assert 0 < timings.since_process_start() <= age + 0.05


def test_marks_print_only_when_enabled(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RLRT_TIMINGS", raising=False)
    timings.mark("quiet")
    monkeypatch.setenv("RLRT_TIMINGS", "1")
    timings.mark("first iteration")
    captured = capsys.readouterr()
    assert captured.out == ""
    name, seconds = captured.err.strip().removeprefix("rlrt-timing: ").rsplit(" ", 1)
    assert name == "first iteration" and float(seconds) > 0
