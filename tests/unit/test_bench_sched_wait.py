"""``bench/sched_wait.py`` reads each thread's time on a CPU from the kernel's ``schedstat``: checked against the
thread's own CPU clock (``time.thread_time``), and its kinds of process named from real command lines."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")


@pytest.fixture
def sched_wait(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "sched_wait", raising=False)
    import sched_wait  # type: ignore[import-not-found]

    return sched_wait


def test_a_threads_cpu_time_matches_its_own_clock(sched_wait: Any) -> None:
    me = (os.getpid(), threading.get_native_id())
    before, clock = sched_wait.threads()[me][1], time.thread_time_ns()
    deadline = time.thread_time() + 0.3
    while time.thread_time() < deadline:  # 0.3 s of this thread's CPU
        pass
    after, spent = sched_wait.threads()[me][1], time.thread_time_ns() - clock
    # Both count the same nanoseconds of this thread; the readings themselves cost a few milliseconds.
    assert spent >= 0.3e9
    assert abs((after - before) - spent) < 0.05e9, (after - before, spent)


def test_its_nice_value_is_the_threads_own(sched_wait: Any) -> None:
    me = (os.getpid(), threading.get_native_id())
    assert sched_wait.threads()[me][3] == os.getpriority(os.PRIO_PROCESS, 0)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ray::SingleAgentEnvRunner.sample", "ray::SingleAgentEnvRunner"),
        ("ray::IDLE", "ray::IDLE"),
        ("/venv/bin/python -m runtime.cli train", "the job's driver (rlrt)"),
        ("/venv/bin/python -c import os, sys\nwhile os.getppid() == 1: pass 123", "the background load"),
        ("/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet --node-ip-address=1", "raylet"),
    ],
)
def test_kinds_of_process(sched_wait: Any, command: str, expected: str) -> None:
    assert sched_wait.kind(command) == expected
