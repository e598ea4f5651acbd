"""Train a preset for a fixed wall-clock budget, then evaluate it greedily with `rlrt evaluate`.

    python bench/train_for.py PRESET SECONDS [--episodes 20] [--target RETURN] [--preset-stop] [--seed N]
                              [--set rl.training.config.KEY=JSON ...] [--under-load [NICE]]

Used for the reacher-ppo (900 s, goal: mean evaluation return >= 18), hopper-ppo (to its 2M-step stop,
`--target 2500`; RL Zoo's PPO reaches 2575 at 2M steps), humanoid-ppo and humanoid-sac (3600 s, `--target 3500`, the
seed's stop) benchmarks. Prints the training curve (env steps, training mean and episode length at every tenth of the
budget), its last value, where it reached the target (or a projection) and the greedy evaluation return.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
from typing import Any

from common import OUT, greedy_episodes, greedy_return, machine, settings_from, train_for
from load import add_load_argument, load_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument(
        "--preset-stop",
        action="store_true",
        help="keep the preset's own return stop (hopper-ppo: the seed's 2500): the wall time is then "
        "the time to that stop",
    )
    parser.add_argument(
        "--target",
        type=float,
        default=None,
        help="when the curve reached this episode_reward_mean; if it did not, a projection from its second half",
    )
    parser.add_argument("--seed", type=int, default=None, help="the job's seed (default: the preset's)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a hyperparameter on top of the preset, e.g. rl.training.config.minibatch_size=512",
    )
    add_load_argument(parser)
    args = parser.parse_args()
    hyperparameters = settings_from(args.set)
    if args.seed is not None:
        hyperparameters["seed"] = args.seed
    print(f"machine: {machine()}", flush=True)
    if hyperparameters:
        print(f"hyperparameters on top of {args.preset}: {json.dumps(hyperparameters)}", flush=True)
    base = OUT / f"train_for-{args.preset}"
    shutil.rmtree(base, ignore_errors=True)
    with load_from(args.under_load) as load:  # the training only: the greedy evaluation is not timed
        print(load, flush=True)
        rows, wall = train_for(
            base, args.preset, args.seconds, keep_return_stop=args.preset_stop, hyperparameters=hyperparameters
        )
    last = rows[-1]
    best = max(float(r["episode_reward_mean"]) for r in rows if r["episode_reward_mean"] != "nan")
    print(
        f"preset: {args.preset}; trained {float(last['time_total_s']):.0f} s ({wall:.0f} s wall), "
        f"{last['timesteps_total']} env steps, {last['training_iteration']} iterations"
    )
    print(f"training episode_reward_mean: last {float(last['episode_reward_mean']):.2f}, best {best:.2f}")
    print(curve(rows, args.seconds))
    if args.target is not None:
        print(projection(rows, args.target))
    # Greedy evaluation through `rlrt evaluate` (the observation filter is part of the exported policy).
    value = greedy_return(base, args.episodes)
    print(f"evaluation over {args.episodes} episodes (greedy): mean return {value:.2f}")
    print(episode_spread(greedy_episodes(base)))
    shutil.copy(base / "output" / "intermediate" / "learning_curve.png", OUT / f"{args.preset}-curve.png")


def episode_spread(summary: dict[str, Any]) -> str:
    """How the greedy episodes differ: on a walker a low mean is usually a few episodes cut short by a fall, not a
    slower gait, and 20 episodes then swing by hundreds (which episodes fall changes with the smallest numerical
    difference in the policy). ``summary``: an ``evaluation.json`` of `rlrt evaluate`."""
    pairs = sorted(zip(summary["lengths"], summary["rewards"]))
    longest = pairs[-1][0]
    short = [(length, reward) for length, reward in pairs if length < longest]
    full = [reward for length, reward in pairs if length == longest]
    listed = ", ".join(f"{reward:.0f} in {length} steps" for length, reward in short) or "none"
    # The standard error says how far another draw of as many episodes may land: with one fall in ten episodes
    # a 20-episode mean of Hopper's policy moves by ~150.
    rewards = summary["rewards"]
    error = statistics.stdev(rewards) / math.sqrt(len(rewards)) if len(rewards) > 1 else float("nan")
    return (
        f"greedy episodes: {len(full)} of {len(pairs)} ran the longest length ({longest} steps; mean return "
        f"{sum(full) / len(full):.0f}); shorter: {listed}; the mean's standard error {error:.0f}"
    )


def curve(rows: list[dict[str, str]], seconds: float, points: int = 10) -> str:
    """The training curve at every ``points``-th of ``seconds`` of training: the last row at or before each time."""
    lines = ["training s | env steps | training mean | episode length"]
    for step in range(1, points + 1):
        at = seconds * step / points
        before = [row for row in rows if float(row["time_total_s"]) <= at]
        if before:
            row = before[-1]
            lines.append(
                f"{at:.0f} | {row['timesteps_total']} | {float(row['episode_reward_mean']):.1f} | "
                f"{float(row['episode_len_mean']):.0f}"
            )
    return "\n".join(lines)


def projection(rows: list[dict[str, str]], target: float) -> str:
    """Where the curve first reached ``target``; if it never did, a crude projection: the least-squares line through
    the second half of the curve, extended to ``target``, against training seconds (this machine's figure) and env
    steps (any machine's). PPO curves bend, so read it as an order of magnitude, not a forecast."""
    reached = [
        r for r in rows if r["episode_reward_mean"] not in ("", "nan") and float(r["episode_reward_mean"]) >= target
    ]
    if reached:
        first = reached[0]
        return (
            f"target: {target:g} first reached at iteration {first['training_iteration']}, "
            f"{float(first['timesteps_total']) / 1e6:.2f}M env steps, {float(first['time_total_s']):.0f} s of "
            f"training ({len(reached)} of {len(rows)} iterations at or above it)"
        )
    half = [r for r in rows[len(rows) // 2 :] if r["episode_reward_mean"] not in ("", "nan")]
    if len(half) < 2:
        return "projection: too few points"
    returns = [float(r["episode_reward_mean"]) for r in half]
    seconds = [float(r["time_total_s"]) for r in half]
    steps = [float(r["timesteps_total"]) for r in half]
    slope_t, at_t = _line_to(seconds, returns, target)
    slope_s, at_s = _line_to(steps, returns, target)
    if slope_t <= 0:
        return f"projection: the second half of the curve does not rise (slope {slope_t * 3600:.1f} per hour)"
    return (
        f"projection: the second half rises {slope_t * 3600:.0f} per training hour "
        f"({slope_s * 1e6:.0f} per million env steps); a straight line reaches {target:g} after "
        f"{at_t / 3600:.1f} h of training, {at_s / 1e6:.0f}M env steps"
    )


def _line_to(xs: list[float], ys: list[float], target: float) -> tuple[float, float]:
    """The least-squares slope of ys against xs, and the x where that line reaches ``target``."""
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return slope, (mean_x + (target - mean_y) / slope if slope > 0 else float("inf"))


if __name__ == "__main__":
    main()
