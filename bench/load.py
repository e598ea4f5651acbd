"""A standard background load for speed benchmarks: one busy process per core, at nice 19 (background work that
yields to ours, as other users' batch jobs on a shared machine) or at nice 0 (work that competes as an equal).

A quiet machine hides what a busy one shows: a process with one thread per core (torch's default) stalls at every
barrier when another process holds a core, and a figure taken quiet says nothing of that. A benchmark runs under the
load with ``--under-load [NICE]`` (:func:`add_load_argument`, :func:`load_from`) or the context manager
:func:`background_load`; its processes always stop: when the block ends, on an exception or Ctrl-C, and on their own
within a fraction of a second when the process that started them dies (even by SIGKILL).

    python bench/load.py [--processes N] [--nice 19] [--seconds S]    # a load on its own until Ctrl-C or S seconds
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

BUSY_LOOP = """
import os, sys
while os.getppid() == int(sys.argv[1]):  # the starter is gone (even SIGKILLed): its load goes too
    for _ in range(200_000):
        pass
"""
"""A busy process: pure Python on one core, checking about every 10 ms that the process that started it (whose pid
is its argument: it may be gone before this one runs) lives."""


def busy_processes(processes: int | None = None) -> int:
    """How many busy processes the standard load has: one per core (``processes`` when given)."""
    return processes if processes is not None else (os.cpu_count() or 1)


def describe(processes: int, nice: int) -> str:
    return f"{processes} busy process{'' if processes == 1 else 'es'} (one per core: a pure-Python loop) at nice {nice}"


@contextmanager
def background_load(processes: int | None = None, nice: int = 19) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run :func:`busy_processes` busy processes at ``nice`` while the block runs; they are killed and waited for
    when it ends, however it ends."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(busy_processes(processes)):
            started.append(
                subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(os.getpid())], stdin=subprocess.DEVNULL)
            )
            os.setpriority(os.PRIO_PROCESS, started[-1].pid, nice)  # at once, from here (no preexec_fn: threads)
        yield started
    finally:
        for process in started:
            process.kill()
        for process in started:
            process.wait()


def add_load_argument(parser: argparse.ArgumentParser) -> None:
    """``--under-load [NICE]``: run the benchmark under the standard load (nice 19 unless NICE is given)."""
    parser.add_argument(
        "--under-load",
        nargs="?",
        const=19,
        type=int,
        default=None,
        metavar="NICE",
        help="run under the standard background load: one busy process per core at nice NICE "
        "(19 when not given; 0: a load that competes as an equal)",
    )


@contextmanager
def load_from(under_load: int | None) -> Iterator[str]:
    """The load ``--under-load`` asked for (none when it was not given), and a line that says which."""
    if under_load is None:
        yield "load: none added (other users' work on the machine is not controlled)"
        return
    with background_load(nice=under_load) as started:
        yield f"load: {describe(len(started), under_load)}, started before the first round"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=None, help="busy processes (default: one per core)")
    parser.add_argument("--nice", type=int, default=19)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: at Ctrl-C)")
    args = parser.parse_args()
    with background_load(args.processes, args.nice) as started:
        print(f"load: {describe(len(started), args.nice)}: pids {' '.join(str(p.pid) for p in started)}", flush=True)
        try:
            time.sleep(args.seconds if args.seconds is not None else 10**9)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
