"""The job's timeline, for measuring start-up and finish: with ``RLRT_TIMINGS=1`` each :func:`mark` prints
``rlrt-timing: <phase> <seconds since the process started>`` to stderr (bench/startup.py reads these lines).

Seconds are counted from the kernel's start time of the process (``/proc/self/stat``), so the interpreter's own start
and the imports before the first mark are included; 10 ms resolution; NaN where there is no /proc (not Linux).
"""

from __future__ import annotations

import math
import os
import sys

from runtime.names import TIMINGS_ENV

PREFIX = "rlrt-timing:"


def since_process_start() -> float:
    """Seconds since this process started (wall clock); NaN where /proc cannot tell."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def enabled() -> bool:
    """Whether the job prints its timeline (``RLRT_TIMINGS=1``)."""
    return os.environ.get(TIMINGS_ENV, "") == "1"


def mark(phase: str) -> None:
    """Print that ``phase`` was reached, when the timeline is enabled."""
    if enabled():
        print(f"{PREFIX} {phase} {since_process_start():.2f}", file=sys.stderr, flush=True)
