"""A laptop user's first result: seconds from process start to the first trained update of CartPole-v1, `rlrt train`
(the default preset, one iteration: its first metric lines) against Stable-Baselines3 PPO with the same sizes
(bench/sb3_first_update.py), alternated in one run on the same machine; also each process's seconds to exit.

    python bench/first_result.py [--rounds 3] [--under-load [NICE]]

``--under-load``: under the standard background load (bench/load.py: one busy process per core at nice 19, or NICE).
"""

from __future__ import annotations

import argparse
import shutil
import statistics

from common import OUT, found, load_key, load_name, machine, python, record, rlrt_env, stream_process, write_tree
from load import add_load_argument, load_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    add_load_argument(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    with load_from(args.under_load) as load:
        print(load, flush=True)
        ours_first, ours_exit, sb3_first, sb3_exit = race(args.rounds)
    print(f"machine at the end: {machine()}", flush=True)
    record(
        f"first-result/{load_key(args.under_load)}",
        f"{ours_first:.2f} / {ours_exit:.2f} s vs {sb3_first:.2f} / {sb3_exit:.2f} s: {ours_first / sb3_first:.2f}x",
        load_name(args.under_load),
        figure="first result / exit, rlrt vs SB3",
        goal="report",
        write_up="history.md",
    )


def race(rounds: int) -> tuple[float, float, float, float]:
    """``rounds`` rounds of a one-iteration rlrt job then SB3's first update; prints each round and the medians, and
    returns them: rlrt's first result and exit, SB3's first update and exit."""
    root = OUT / "first-result"
    root.mkdir(parents=True, exist_ok=True)
    rlrt_first, rlrt_exit, sb3_first, sb3_exit = [], [], [], []
    for round_ in range(rounds):
        base = root / "rlrt"
        shutil.rmtree(base, ignore_errors=True)
        write_tree(base, {"rl.training.stop.training_iteration": 1})
        code, wall, first = stream_process(
            [python(), "-m", "runtime.cli", "train"],
            rlrt_env(base),
            root / "rlrt.log",
            watch="training_iteration",
            threshold=1,
        )
        assert code == 0 and first is not None, (root / "rlrt.log").read_text()[-3000:]
        rlrt_first.append(first)
        rlrt_exit.append(wall)
        code, wall, _ = stream_process([python(), "bench/sb3_first_update.py"], rlrt_env(root), root / "sb3.log")
        text = (root / "sb3.log").read_text()
        assert code == 0, text[-3000:]
        sb3_first.append(float(found(r"^sb3_first_update_s: ([0-9.]+)$", text)))
        sb3_exit.append(wall)
        print(
            f"round {round_}: rlrt first result {first:.2f} s, exit {rlrt_exit[-1]:.2f} s; "
            f"SB3 first update {sb3_first[-1]:.2f} s, exit {wall:.2f} s",
            flush=True,
        )
    median = statistics.median
    print(
        f"median: rlrt first result {median(rlrt_first):.2f} s, exit {median(rlrt_exit):.2f} s; "
        f"SB3 first update {median(sb3_first):.2f} s, exit {median(sb3_exit):.2f} s",
        flush=True,
    )
    return median(rlrt_first), median(rlrt_exit), median(sb3_first), median(sb3_exit)


if __name__ == "__main__":
    main()
