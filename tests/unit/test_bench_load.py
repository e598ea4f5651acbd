"""``bench/load.py``: the standard background load starts one busy process per core (or as many as asked) at the
niceness asked, and leaves none behind: at the end of its block, on an exception, and when its starter is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delitem(sys.modules, "load", raising=False)
    import load  # type: ignore[import-not-found]

    return load


def gone(pid: int, within_s: float = 5.0) -> bool:
    """Whether process ``pid`` has ended within ``within_s`` (reaped, or a zombie its new parent has yet to reap)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("nice", [19, 0])
def test_it_starts_the_processes_asked_at_the_niceness_asked_and_stops_them(load: Any, nice: int) -> None:
    with load.background_load(processes=2, nice=nice) as started:
        assert len(started) == 2
        assert all(process.poll() is None for process in started)
        assert [os.getpriority(os.PRIO_PROCESS, process.pid) for process in started] == [nice, nice]
        pids = [process.pid for process in started]
    assert all(process.returncode is not None for process in started)
    assert all(gone(pid, 0.1) for pid in pids)


def test_one_busy_process_per_core_by_default(load: Any) -> None:
    assert load.busy_processes() == os.cpu_count()
    assert load.busy_processes(3) == 3


def test_an_exception_in_the_block_stops_them(load: Any) -> None:
    with pytest.raises(KeyboardInterrupt):
        with load.background_load(processes=1) as started:
            raise KeyboardInterrupt
    assert started[0].returncode is not None


def test_they_stop_on_their_own_when_their_starter_is_killed(tmp_path: Path) -> None:
    """A benchmark SIGKILLed (no ``finally`` runs) leaves no busy process: each sees its parent gone."""
    script = (
        "import os, signal, sys\nsys.path.insert(0, sys.argv[1])\nfrom load import background_load\n"
        "with background_load(processes=2) as started:\n"
        "    print(' '.join(str(p.pid) for p in started), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    starter = subprocess.run([sys.executable, "-c", script, str(BENCH)], capture_output=True, text=True, timeout=60)
    assert starter.returncode == -signal.SIGKILL
    pids = [int(pid) for pid in starter.stdout.split()]
    assert len(pids) == 2
    assert all(gone(pid) for pid in pids)


def test_the_flag_runs_the_block_under_the_load_only_when_given(load: Any) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    load.add_load_argument(parser)
    assert parser.parse_args([]).under_load is None
    assert parser.parse_args(["--under-load"]).under_load == 19
    assert parser.parse_args(["--under-load", "0"]).under_load == 0
    with load.load_from(None) as line:
        assert line.startswith("load: none added")
    with load.load_from(19) as line:
        assert line.startswith(f"load: {os.cpu_count()} busy process") and "nice 19" in line
