"""Runtime overhead: `rlrt train` vs a bare RLlib script with the identical configuration, env steps/s.

Runs them alternately (ROUNDS times each, in one run of this script) on the cartpole-ppo preset for a fixed number of
iterations and reports the median of the per-round ratios. rlrt's rate is steps over the time of its training loop
(reporting, CSV, TensorBoard and periodic checkpoints included); the bare script times only `algo.train()`.

    python bench/overhead.py [--iterations 30] [--rounds 3] [--under-load [NICE]]

``--under-load``: under the standard background load (bench/load.py: one busy process per core at nice 19, or NICE).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics

from common import OUT, found, load_key, load_name, machine, python, record, rlrt_env, stream_process, write_tree
from load import add_load_argument, load_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    add_load_argument(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    with load_from(args.under_load) as load:
        print(load, flush=True)
        ratios = race(args.rounds, args.iterations)
    print(f"median ratio rlrt / bare: {statistics.median(ratios):.3f} (goal >= 0.97)")
    record(
        f"overhead/{load_key(args.under_load)}",
        f"{statistics.median(ratios):.3f} (rounds {', '.join(f'{ratio:.3f}' for ratio in ratios)})",
        load_name(args.under_load),
        figure="env steps/s, rlrt/bare RLlib",
        goal=">= 0.97",
        write_up="history.md",
    )


def race(rounds: int, iterations: int) -> list[float]:
    """``rounds`` rounds of rlrt then bare RLlib with rlrt's resolved configuration; the per-round ratios."""
    ratios = []
    for round_ in range(rounds):
        base = OUT / "overhead" / f"round{round_}"
        shutil.rmtree(base, ignore_errors=True)
        write_tree(
            base,
            {
                "rl.training.stop.training_iteration": iterations,
                "rl.training.stop.episode_reward_mean": 1e9,
                "rl.training.stop.timesteps_total": 10**9,
            },
        )
        code, _, _ = stream_process([python(), "-m", "runtime.cli", "train"], rlrt_env(base), base / "rlrt.log")
        assert code == 0, (base / "rlrt.log").read_text()[-2000:]
        rows = list(csv.DictReader((base / "output" / "intermediate" / "progress.csv").open()))
        ours = int(rows[-1]["timesteps_total"]) / float(rows[-1]["time_total_s"])
        code, _, _ = stream_process(
            [python(), "bench/bare_rllib.py", str(base / "model" / "config.json"), str(iterations)],
            rlrt_env(base),
            base / "bare.log",
        )
        assert code == 0, (base / "bare.log").read_text()[-2000:]
        bare = float(found(r"bare_steps_per_s: ([0-9.]+)", (base / "bare.log").read_text()))
        ratios.append(ours / bare)
        print(
            f"round {round_}: rlrt {ours:.0f} steps/s, bare RLlib {bare:.0f} steps/s, ratio {ours / bare:.3f}",
            flush=True,
        )
    return ratios


if __name__ == "__main__":
    main()
