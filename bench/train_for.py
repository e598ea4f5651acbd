"""Train a preset for a fixed wall-clock budget, then evaluate it greedily with `rlrt evaluate`.

    python bench/train_for.py PRESET SECONDS [--episodes 20] [--target RETURN]

Used for the reacher-ppo (900 s, goal: mean evaluation return >= 18), hopper-ppo (1800 s; RL Zoo's PPO reaches
2575 at 2M steps) and humanoid-ppo (`--target 3500`, the seed's stop) benchmarks. Prints the training curve's
last value and the evaluation return.
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
    parser.add_argument("--target", type=float, default=None,
                        help="project the training time to this episode_reward_mean from the curve's second half")
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
    if args.target is not None:
        print(projection(rows, args.target))
    # Greedy evaluation through `rlrt evaluate` (the observation filter is part of the exported policy).
    code, _, _ = stream_process([python(), "-m", "runtime.cli", "evaluate", "--base-dir", str(base / "evaluation"),
                                 "--model", str(base / "model"), "--set", f"evaluate_episodes={args.episodes}",
                                 "--set", "record_video_every=0"], rlrt_env(base), base / "evaluate.log")
    text = (base / "evaluate.log").read_text()
    assert code == 0, text[-3000:]
    value = float(re.search(r"^episode_reward_mean: ([-+0-9.e]+)$", text, re.M).group(1))
    print(f"evaluation over {args.episodes} episodes (greedy): mean return {value:.2f}")
    shutil.copy(base / "output" / "intermediate" / "learning_curve.png", OUT / f"{args.preset}-curve.png")


def projection(rows: list[dict[str, str]], target: float) -> str:
    """A crude projection: the least-squares line through the second half of the curve (return against training
    seconds), extended to ``target``. PPO curves flatten, so this is a lower bound on the time, not a forecast."""
    points = [(float(r["time_total_s"]), float(r["episode_reward_mean"])) for r in rows[len(rows) // 2:]
              if r["episode_reward_mean"] not in ("", "nan")]
    if len(points) < 2:
        return "projection: too few points"
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    slope = sum((t - mean_t) * (r - mean_r) for t, r in points) / sum((t - mean_t) ** 2 for t, _ in points)
    if slope <= 0:
        return f"projection: the second half of the curve does not rise (slope {slope * 3600:.1f} per hour)"
    at = mean_t + (target - mean_r) / slope
    return (f"projection: the second half rises {slope * 3600:.0f} per training hour; a straight line reaches "
            f"{target:g} after {at / 3600:.1f} h of training")


if __name__ == "__main__":
    main()
