"""CartPole-v1: time from process start until the mean training return reaches 475, `rlrt train` (the default
preset) vs Stable-Baselines3 PPO with RL Zoo's tuned hyperparameters, alternately in one run of this script; round
N seeds both with N; the ratio is SB3's median over rlrt's.

    python bench/cartpole_vs_sb3.py [--rounds 5] [--under-load [NICE]]

``--under-load``: under the standard background load (bench/load.py: one busy process per core at nice 19, or NICE).
"""

from __future__ import annotations

import argparse
import os
import statistics

from common import (
    OUT,
    found,
    load_key,
    load_name,
    machine,
    python,
    record,
    rlrt_env,
    seconds_to_return,
    stream_process,
)
from load import add_load_argument, load_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    add_load_argument(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    with load_from(args.under_load) as load:
        print(load, flush=True)
        ours, theirs = race(args.rounds)
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    print(f"median seconds to 475: rlrt {ours_s:.1f}, SB3 {theirs_s:.1f}; SB3/rlrt {theirs_s / ours_s:.2f}")
    record(
        f"cartpole-vs-sb3/{load_key(args.under_load)}",
        f"rlrt {ours_s:.1f} s vs SB3 {theirs_s:.1f} s: {theirs_s / ours_s:.2f}",
        load_name(args.under_load),
        figure="CartPole s to 475, SB3/rlrt",
        goal=">= 1.2",
        write_up="history.md",
    )


def race(rounds: int) -> tuple[list[float], list[float]]:
    """``rounds`` rounds of rlrt then SB3 (round N: seed N on both sides); the seconds each took to 475."""
    ours: list[float] = []
    theirs: list[float] = []
    for round_ in range(rounds):
        base = OUT / "cartpole_vs_sb3" / f"round{round_}"
        reached, steps, wall = seconds_to_return(base, {"seed": round_}, 475)
        code, sb3_wall, _ = stream_process(
            [python(), "bench/sb3_cartpole.py", "475", str(round_)],
            rlrt_env(base, SB3_LOGDIR=str(base / "sb3-log")),
            base / "sb3.log",
        )
        text = (base / "sb3.log").read_text()
        assert code == 0, text[-2000:]
        sb3 = found(r"sb3_seconds_to_threshold: (\S+)", text)
        sb3_steps = found(r"sb3_steps: (\d+)", text)
        ours.append(reached)
        theirs.append(float(sb3) if sb3 != "not" else float("inf"))
        print(
            f"round {round_}: rlrt {ours[-1]:.1f} s ({steps} steps, process {wall:.1f} s); "
            f"SB3 {theirs[-1]:.1f} s ({sb3_steps} steps); load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return ours, theirs


if __name__ == "__main__":
    main()
