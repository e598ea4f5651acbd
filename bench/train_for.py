"""Train a preset for a fixed wall-clock budget, then evaluate it greedily with `rlrt evaluate`.

    python bench/train_for.py PRESET SECONDS [--episodes 20]

Used for the reacher-ppo (900 s, goal: mean evaluation return >= 18) and hopper-ppo (1800 s; RL Zoo's PPO reaches
2575 at 2M steps) benchmarks. Prints the training curve's last value and the evaluation return.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil

from common import OUT, machine, python, rlrt_env, stream_process, write_tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    base = OUT / f"train_for-{args.preset}"
    shutil.rmtree(base, ignore_errors=True)
    write_tree(base, {"preset": args.preset, "rl.training.stop.time_total_s": args.seconds,
                      "rl.training.stop.episode_reward_mean": 1e9})
    code, wall, _ = stream_process([python(), "-m", "runtime.cli", "train"], rlrt_env(base), base / "train.log")
    assert code == 0, (base / "train.log").read_text()[-3000:]
    rows = list(csv.DictReader((base / "output" / "intermediate" / "progress.csv").open()))
    last = rows[-1]
    best = max(float(r["episode_reward_mean"]) for r in rows if r["episode_reward_mean"] != "nan")
    print(f"preset: {args.preset}; trained {float(last['time_total_s']):.0f} s ({wall:.0f} s wall), "
          f"{last['timesteps_total']} env steps, {last['training_iteration']} iterations")
    print(f"training episode_reward_mean: last {float(last['episode_reward_mean']):.2f}, best {best:.2f}")
    # Greedy evaluation through `rlrt evaluate` (the observation filter is part of the exported policy).
    code, _, _ = stream_process([python(), "-m", "runtime.cli", "evaluate", "--base-dir", str(base / "evaluation"),
                                 "--model", str(base / "model"), "--set", f"evaluate_episodes={args.episodes}",
                                 "--set", "record_video_every=0"], rlrt_env(base), base / "evaluate.log")
    text = (base / "evaluate.log").read_text()
    assert code == 0, text[-3000:]
    value = float(re.search(r"^episode_reward_mean: ([-+0-9.e]+)$", text, re.M).group(1))
    print(f"evaluation over {args.episodes} episodes (greedy): mean return {value:.2f}")
    shutil.copy(base / "output" / "intermediate" / "learning_curve.png", OUT / f"{args.preset}-curve.png")


if __name__ == "__main__":
    main()
