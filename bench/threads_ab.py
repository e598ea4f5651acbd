"""The default job (`rlrt train --seed 0`) as an earlier commit ships it (A) and as this tree runs it (B), alternately
(A B A B) in one run, on the quiet machine and under the standard background load (bench/load.py), so that both
variants see the same conditions. Each run: wall seconds, RLlib's training seconds (``time_total_s``), the 1-minute
load average at its start, and its result (steps, iterations, final mean), which must be the same for A and B: the
threads change how fast a job runs, never what it computes.

    python bench/threads_ab.py --baseline-commit COMMIT [--rounds 2] [--loads none,19]

``--loads``: ``none`` (no load added), or a niceness for the standard load (19: background work; 0: an equal).
The baseline is ``git archive COMMIT`` of this repository, run with ``PYTHONPATH`` pointing at it.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from common import OUT, REPO, machine, python, rlrt_env, stream_process
from load import load_from


def baseline_tree(commit: str) -> Path:
    """``commit``'s tree of this repository, extracted once under bench/out."""
    tree = OUT / f"baseline-{commit}"
    if not (tree / "runtime").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def default_job(tree: Path, base: Path) -> dict[str, Any]:
    """`rlrt train --seed 0` of ``tree`` in a fresh job tree at ``base``: its timings and result."""
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    load = os.getloadavg()[0]
    code, wall, _ = stream_process(
        [python(), "-m", "runtime.cli", "train", "--seed", "0", "--base-dir", str(base)],
        rlrt_env(base, PYTHONPATH=str(tree)),
        base.with_suffix(".log"),
        cwd=tree,
    )
    text = base.with_suffix(".log").read_text()
    assert code == 0, text[-2000:]
    with (base / "output" / "intermediate" / "progress.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    threads = re.search(r"^rlrt: torch threads: (.*)$", text, re.M)
    return {
        "load_average": load,
        "wall_s": wall,
        "training_s": float(last["time_total_s"]),
        "steps": int(last["timesteps_total"]),
        "iterations": int(last["training_iteration"]),
        "mean": float(last["episode_reward_mean"]),
        "threads": threads.group(1) if threads else "torch's default",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-commit", required=True, help="the commit whose tree runs as variant A")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--loads", default="none,19", help="comma-separated: none, or the load's niceness")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    variants = {"A": baseline_tree(args.baseline_commit), "B": REPO}
    print(f"A: {args.baseline_commit} ({variants['A']}); B: this tree ({REPO})", flush=True)
    print(
        "| variant | load | round | load average at start | wall s | RLlib training s | steps | iterations | "
        "mean | threads |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        flush=True,
    )
    for load in args.loads.split(","):
        with load_from(None if load == "none" else int(load)) as described:
            for round_ in range(args.rounds):
                for name, tree in variants.items():
                    run = default_job(tree, OUT / "threads_ab" / f"{name}-{load}-{round_}")
                    print(
                        f"| {name} | {described} | {round_} | {run['load_average']:.2f} | {run['wall_s']:.1f} | "
                        f"{run['training_s']:.1f} | {run['steps']} | {run['iterations']} | {run['mean']:.3f} | "
                        f"{run['threads']} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
