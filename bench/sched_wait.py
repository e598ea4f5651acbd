"""Where a job's time goes when it is slowed: CPU seconds and run-queue wait of every process it starts.

    python bench/sched_wait.py PRESET SECONDS [--under-load [NICE]] [--set rl.training.config.KEY=JSON ...]

Trains PRESET for SECONDS (bench/common.py's `train_for` tree, its return stop lifted) and reads the kernel's
scheduler statistics of every thread on the machine (``/proc/<pid>/task/<tid>/schedstat``: time on a CPU, time
runnable but waiting for one, slices) every half second; prints, per kind of process (the driver, Ray's env runners,
Ray's services, the load), its CPU seconds, its run-queue wait and its nice value, then the steps trained. A process
that waits for a CPU while a nice-19 load runs is losing to work that should yield; one that is slowed without
waiting loses speed per cycle (caches, the host), not time. The reading itself costs ~5 % of one core on a 2-core
machine (5.5 s of CPU in a 97-s Hopper run): it shows in its own row, and a figure taken with it is compared only
with another taken with it. Linux only.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import shutil
import subprocess
import time
from pathlib import Path

from common import OUT, machine, python, rlrt_env, settings_from, write_tree
from load import add_load_argument, load_from


def threads() -> dict[tuple[int, int], tuple[str, int, int, int]]:
    """Every thread on the machine: (pid, tid) -> (kind of process, ns on a CPU, ns waiting for one, nice)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            text = Path(f"/proc/{pid}/stat").read_text()
            stat = text.rsplit(")", 1)[1].split()
            name = kind(command) if command else f"[{text.split('(', 1)[1].rsplit(')', 1)[0]}]"  # a kernel thread
            for tid in os.listdir(f"/proc/{pid}/task"):
                run, wait, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                found[int(pid), int(tid)] = (name, int(run), int(wait), int(stat[16]))
        except (OSError, ValueError, IndexError):  # a thread that ended between the listing and the read
            continue
    return found


def kind(command: str) -> str:
    """A process's kind from its command line: Ray names its workers ``ray::<Actor>``; the load's loop runs ``-c``."""
    if command.startswith("ray::"):
        return command.split()[0].split(".")[0]
    if " -m runtime.cli " in f"{command} ":
        return "the job's driver (rlrt)"
    if " -c " in command and "getppid" in command:
        return "the background load"
    return Path(command.split()[0]).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset")
    parser.add_argument("seconds", type=float)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=JSON", help="a hyperparameter on top of the preset"
    )
    add_load_argument(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    base = OUT / f"sched_wait-{args.preset}"
    shutil.rmtree(base, ignore_errors=True)
    write_tree(
        base,
        {
            "preset": args.preset,
            "rl.training.stop.time_total_s": args.seconds,
            "rl.training.stop.episode_reward_mean": 1e9,
            **settings_from(args.set),
        },
    )
    first = threads()
    last = dict(first)
    with load_from(args.under_load) as load:
        print(load, flush=True)
        started = time.monotonic()
        with (base / "train.log").open("w") as log:
            job = subprocess.Popen(
                [python(), "-m", "runtime.cli", "train"], env=rlrt_env(base), stdout=log, stderr=subprocess.STDOUT
            )
            while job.poll() is None:
                last.update(threads())  # a thread's last reading before it ended
                time.sleep(0.5)
        wall = time.monotonic() - started
    assert job.returncode == 0, (base / "train.log").read_text()[-3000:]
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    nices: dict[str, set[int]] = collections.defaultdict(set)
    for key, (name, run, wait, nice) in last.items():
        before = first.get(key)
        run0, wait0 = (before[1], before[2]) if before and before[0] == name else (0, 0)
        totals[name][0] += (run - run0) / 1e9
        totals[name][1] += (wait - wait0) / 1e9
        nices[name].add(nice)
    print(f"wall {wall:.1f} s; per kind of process, seconds on a CPU and seconds runnable but waiting for one:")
    for name, (on_cpu, waiting) in sorted(totals.items(), key=lambda item: -item[1][0]):
        if on_cpu >= 0.5 or waiting >= 0.5:
            niceness = ",".join(map(str, sorted(nices[name])))
            print(f"  {on_cpu:7.1f} on a CPU  {waiting:7.1f} waiting  nice {niceness}  {name}")
    with (base / "output" / "intermediate" / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    print(
        f"trained {rows[-1]['timesteps_total']} env steps in {float(rows[-1]['time_total_s']):.1f} s, "
        f"{len(rows)} iterations"
    )


if __name__ == "__main__":
    main()
