"""Start-up and finish: what a short `rlrt train` job pays around its training loop.

Three measurements on the default preset (cartpole-ppo), each round running them one after the other:

- a one-iteration `rlrt train`: seconds from starting the process to the first metric line (`training_iteration: 1`)
  and to the process's exit, with its phase timeline (`RLRT_TIMINGS=1`: seconds since process start per phase);
- a 6-iteration `rlrt train` and `bench/bare_rllib.py` with the configuration rlrt resolved (its `config.json`),
  alternated: env steps per second of the whole process (start to exit) on both sides, and of the training loop
  alone (rlrt: progress.csv's time_total_s; bare: the time inside `algo.train()`).

Prints every round and the medians; report the machine's load with it (`uptime`, printed at the start and end).

    python bench/startup.py [--rounds 5] [--iterations 6]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

from common import OUT, found, machine, python, record, rlrt_env, stream_process, write_tree

TIMING = re.compile(r"^rlrt-timing: (.+) ([0-9.]+)$", re.M)


def rlrt_job(base: Path, iterations: int) -> tuple[float, float | None, dict[str, float], int, float]:
    """One `rlrt train` process: (wall s, s to the first iteration's metrics, phase timeline, env steps, loop s)."""
    shutil.rmtree(base, ignore_errors=True)
    write_tree(base, {"rl.training.stop.training_iteration": iterations})
    code, wall, first = stream_process(
        [python(), "-m", "runtime.cli", "train"],
        rlrt_env(base, RLRT_TIMINGS="1"),
        base.with_suffix(".log"),
        watch="training_iteration",
        threshold=1,
    )
    text = base.with_suffix(".log").read_text()
    assert code == 0, text[-3000:]
    rows = list(csv.DictReader((base / "output" / "intermediate" / "progress.csv").open()))
    phases = {name: float(value) for name, value in TIMING.findall(text)}
    return wall, first, phases, int(rows[-1]["timesteps_total"]), float(rows[-1]["time_total_s"])


def bare_job(config_json: Path, iterations: int, log: Path) -> tuple[float, int, float]:
    """One bench/bare_rllib.py process: (wall s, env steps, s inside algo.train())."""
    code, wall, _ = stream_process(
        [python(), "bench/bare_rllib.py", str(config_json), str(iterations)], rlrt_env(log.parent), log
    )
    text = log.read_text()
    assert code == 0, text[-3000:]
    steps = int(found(r"^bare_steps: (\d+)$", text))
    seconds = float(found(r"^bare_seconds: ([0-9.]+)$", text))
    return wall, steps, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    root = OUT / "startup"
    root.mkdir(parents=True, exist_ok=True)
    firsts, walls, whole, loop = [], [], [], []
    phases: dict[str, list[float]] = defaultdict(list)
    for round_ in range(args.rounds):
        wall, first, timeline, _, _ = rlrt_job(root / "one", 1)
        walls.append(wall)
        firsts.append(first if first is not None else float("nan"))
        for name, value in timeline.items():
            phases[name].append(value)
        print(
            f"round {round_}: one iteration: first metrics {first or float('nan'):.2f} s, exit {wall:.2f} s", flush=True
        )
        wall6, _, _, steps6, loop6 = rlrt_job(root / "six", args.iterations)
        bare_wall, bare_steps, bare_loop = bare_job(
            root / "six" / "model" / "config.json", args.iterations, root / "bare.log"
        )
        whole.append((steps6 / wall6) / (bare_steps / bare_wall))
        loop.append((steps6 / loop6) / (bare_steps / bare_loop))
        print(
            f"round {round_}: {args.iterations} iterations: rlrt {steps6} steps in {wall6:.2f} s "
            f"({steps6 / wall6:.0f} steps/s whole process, {steps6 / loop6:.0f} in the loop); bare RLlib "
            f"{bare_steps} steps in {bare_wall:.2f} s ({bare_steps / bare_wall:.0f} whole, "
            f"{bare_steps / bare_loop:.0f} in algo.train()); ratio whole {whole[-1]:.3f}, loop {loop[-1]:.3f}",
            flush=True,
        )
    print("phase timeline of the one-iteration job, median seconds since process start:")
    for name, values in sorted(phases.items(), key=lambda item: statistics.median(item[1])):
        print(f"  {name:<20} {statistics.median(values):6.2f}")
    print(
        f"one-iteration job: first metrics median {statistics.median(firsts):.2f} s (goal <= 4), "
        f"whole process median {statistics.median(walls):.2f} s (goal <= 6)"
    )
    print(
        f"{args.iterations}-iteration job vs bare RLlib: whole-process ratio median {statistics.median(whole):.3f} "
        f"(goal >= 0.97); loop-only ratio median {statistics.median(loop):.3f}"
    )
    print(f"load average at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    record(
        "startup/first-metrics",
        f"{statistics.median(firsts):.2f} / {statistics.median(walls):.2f} s",
        figure="one-iteration job: first metrics / exit",
        goal="<= 4 / <= 6 s",
        write_up="history.md",
    )
    record(
        "startup/whole-process",
        f"{statistics.median(whole):.3f}",
        figure=f"{args.iterations}-iteration job, rlrt/bare RLlib steps per wall s",
        goal=">= 0.97",
        write_up="history.md",
    )


if __name__ == "__main__":
    main()
