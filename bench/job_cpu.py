"""What one short `rlrt train` job costs the machine, and how much of it is Ray's own processes.

Each round runs a one-iteration `rlrt train` of the default preset twice, alternated: once as users run it (the job
starts its own local Ray) and once joining a Ray head this script started (`RAY_ADDRESS`), so Ray's per-job
processes (GCS, raylet, dashboard, agents, monitors) are not started by the job. Measured for each: wall seconds and
the machine-wide busy CPU-seconds (`/proc/stat`) from the job's start to 3 s after its exit (what its leftovers
would still burn counts too). The head's own idle cost per second is printed first. Run it on a quiet machine.

    python bench/job_cpu.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import OUT, machine, python, rlrt_env, write_tree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from runtime.cluster.node import RayNode


def busy_cpu_seconds() -> float:
    """The machine's busy CPU-seconds since boot (all cores; idle and iowait excluded)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def one_job(base: Path, **extra: str) -> tuple[float, float]:
    """(wall s, machine busy CPU-s) of a one-iteration `rlrt train` in ``base``."""
    shutil.rmtree(base, ignore_errors=True)
    write_tree(base, {"rl.training.stop.training_iteration": 1})
    cpu, started = busy_cpu_seconds(), time.monotonic()
    done = subprocess.run(
        [python(), "-m", "runtime.cli", "train"],
        env=rlrt_env(base, SM_NUM_CPUS="2", **extra),
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    time.sleep(3)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return wall, busy_cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    port = 6390
    node = RayNode(["--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"])
    try:
        failed = node.wait_until_open("127.0.0.1", port, timeout_s=60)
        assert failed is None, f"the Ray head {failed}"
        time.sleep(5)
        cpu = busy_cpu_seconds()
        time.sleep(20)
        print(f"the running head, idle: {(busy_cpu_seconds() - cpu) / 20:.3f} CPU-s per second", flush=True)
        own, joined = [], []
        for round_ in range(1, args.rounds + 1):
            own.append(one_job(OUT / "job-cpu-own"))
            joined.append(one_job(OUT / "job-cpu-joined", RAY_ADDRESS=f"127.0.0.1:{port}"))
            print(
                f"round {round_}: own Ray {own[-1][0]:.2f} s / {own[-1][1]:.2f} CPU-s; "
                f"joined {joined[-1][0]:.2f} s / {joined[-1][1]:.2f} CPU-s",
                flush=True,
            )
    finally:
        node.stop()
    print(
        f"medians: own Ray {statistics.median(w for w, _ in own):.2f} s / "
        f"{statistics.median(c for _, c in own):.2f} CPU-s; joined {statistics.median(w for w, _ in joined):.2f} s / "
        f"{statistics.median(c for _, c in joined):.2f} CPU-s"
    )
    print(f"load average at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
