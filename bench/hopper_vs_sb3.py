"""HopperBulletEnv-v0 side by side in one run: `rlrt train` with the hopper-ppo preset against Stable-Baselines3 PPO
with RL Zoo's tuned HopperBulletEnv-v0 hyperparameters (bench/sb3_hopper.py), each for the same wall-time budget,
one after the other on the same machine, the same torch and gymnasium.

    python bench/hopper_vs_sb3.py [--seconds 1500] [--episodes 10] [--under-load [NICE]]

Prints, per side: env steps in the budget, steps per second, the wall time to 2M steps (measured if reached, else
2M / the measured rate), the training mean (last 100 episodes, stochastic policy) at its end (the budget or 2M
steps), and the greedy return; then the ratios ours / SB3 (training mean at the earlier side's end, i.e. at equal
wall time; greedy return) and SB3 / ours (time to 2M steps). Both curves go to bench/results/hopper-vs-sb3.png
(``hopper-vs-sb3-under-load.png`` under load).

``--under-load``: under the standard background load (bench/load.py: one busy process per core at nice 19, or NICE),
running through both sides' training and evaluation.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
from pathlib import Path
from typing import Any

from common import (
    OUT,
    REPO,
    greedy_return,
    load_key,
    load_name,
    machine,
    python,
    python_loop_seconds,
    record,
    rlrt_env,
    stream_process,
    train_for,
)
from load import add_load_argument, load_from

STEPS = 2_000_000


def ours(base: Path, seconds: float, episodes: int) -> dict[str, Any]:
    """`rlrt train` (hopper-ppo, stopped by the budget or its 2M steps, not by the seed's return), then
    `rlrt evaluate`."""
    rows, wall = train_for(base, "hopper-ppo", seconds)
    curve = [
        (float(r["time_total_s"]), int(float(r["timesteps_total"])), float(r["episode_reward_mean"]))
        for r in rows
        if r["episode_reward_mean"] not in ("", "nan")
    ]
    greedy = greedy_return(base, episodes)
    return summary(curve, greedy, process=wall)


def sb3(base: Path, seconds: float, episodes: int) -> dict[str, Any]:
    """bench/sb3_hopper.py for the same budget."""
    code, wall, _ = stream_process(
        [python(), "bench/sb3_hopper.py", str(seconds), str(base), "--episodes", str(episodes)],
        rlrt_env(base, SB3_LOGDIR=str(base / "sb3-log")),
        base / "sb3.log",
    )
    text = (base / "sb3.log").read_text()
    assert code == 0, text[-3000:]
    rows = list(csv.DictReader((base / "progress.csv").open()))
    curve = [
        (float(r["seconds"]), int(r["timesteps_total"]), float(r["episode_reward_mean"]))
        for r in rows
        if r["episode_reward_mean"] not in ("", "nan")
    ]
    final = {key: float(value) for key, value in re.findall(r"^sb3_(\w+): (\S+)$", text, re.M)}
    # The curve has a point per finished rollout; the budget ends inside one, so the last point is the end's.
    curve.append((final["seconds"], int(final["steps"]), final["episode_reward_mean"]))
    return summary(curve, final["greedy_return"], process=wall)


def summary(curve: list[tuple[float, int, float]], greedy: float, process: float) -> dict[str, Any]:
    """The figures of one side from its curve (seconds, env steps, training mean) and its greedy return."""
    seconds, steps, mean = curve[-1]
    reached = [s for s, n, _ in curve if n >= STEPS]
    return {
        "seconds": seconds,
        "steps": steps,
        "rate": steps / seconds,
        "mean": mean,
        "best": max(m for _, _, m in curve),
        "greedy": greedy,
        "process": process,
        "to_2m": reached[0] if reached else STEPS / (steps / seconds),
        "to_2m_measured": float(bool(reached)),
        "curve": curve,
    }


def mean_at(curve: list[tuple[float, int, float]], seconds: float) -> float:
    """The training mean of the curve's last point at or before ``seconds``."""
    return [mean for at, _, mean in curve if at <= seconds + 1e-6][-1]


def plot(sides: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_time, by_steps) = plt.subplots(1, 2, figsize=(11, 4))
    for name, side in sides.items():
        curve = side["curve"]
        by_time.plot([c[0] / 60 for c in curve], [c[2] for c in curve], label=name)
        by_steps.plot([c[1] / 1e6 for c in curve], [c[2] for c in curve], label=name)
    by_time.set_xlabel("training minutes")
    by_steps.set_xlabel("env steps (millions)")
    for axes in (by_time, by_steps):
        axes.set_ylabel("training mean return (last 100 episodes)")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle("HopperBulletEnv-v0: rlrt hopper-ppo vs SB3 PPO (RL Zoo parameters), same machine")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1500.0, help="wall-time budget of each side's training")
    parser.add_argument("--episodes", type=int, default=10, help="greedy evaluation episodes per side")
    add_load_argument(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    root = OUT / "hopper_vs_sb3"
    shutil.rmtree(root, ignore_errors=True)
    with load_from(args.under_load) as load:
        print(load, flush=True)
        sides = race(root, args.seconds, args.episodes)
    a, b = sides["rlrt"], sides["SB3"]
    # A side that reached 2M steps stops before the budget: compare the training means at the earlier end.
    common = min(a["seconds"], b["seconds"])
    print(
        f"ratios: training mean rlrt/SB3 at {common:.0f} s of training (the earlier end) "
        f"{mean_at(a['curve'], common) / mean_at(b['curve'], common):.2f}; greedy return at each side's end "
        f"rlrt/SB3 {a['greedy'] / b['greedy']:.2f}; time to 2M steps SB3/rlrt {b['to_2m'] / a['to_2m']:.2f}; env "
        f"steps per second rlrt/SB3 {a['rate'] / b['rate']:.2f}"
    )
    if a["to_2m_measured"]:  # a run to rlrt's 2M-step end: the comparison of what each side learned
        record(
            "hopper-vs-sb3-2m",
            f"{mean_at(a['curve'], common):.0f} vs {mean_at(b['curve'], common):.0f}: "
            f"{mean_at(a['curve'], common) / mean_at(b['curve'], common):.2f}",
            load_name(args.under_load),
            figure="Hopper training mean at 2M steps, rlrt/SB3",
            goal="at least as good",
            write_up="history.md",
        )
    else:  # a short run: the rate at which each side steps
        record(
            f"hopper-vs-sb3/{load_key(args.under_load)}",
            f"{a['rate']:.0f} vs {b['rate']:.0f}: {a['rate'] / b['rate']:.2f}",
            load_name(args.under_load),
            figure=f"Hopper env steps/s in {args.seconds:.0f} s, rlrt/SB3",
            goal="slowdown no worse than SB3's",
            write_up="history.md",
        )
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    plot(sides, REPO / "bench" / "results" / f"hopper-vs-sb3{'-under-load' if args.under_load else ''}.png")


def race(root: Path, seconds: float, episodes: int) -> dict[str, dict[str, Any]]:
    """rlrt then SB3, each for ``seconds`` of training and ``episodes`` greedy episodes; prints each side."""
    sides: dict[str, dict[str, Any]] = {}
    for name, run in (("rlrt", ours), ("SB3", sb3)):
        (root / name).mkdir(parents=True)
        speed = python_loop_seconds()
        sides[name] = side = run(root / name, seconds, episodes)
        print(
            f"{name}: {side['steps']} env steps in {side['seconds']:.0f} s ({side['rate']:.0f} steps/s; "
            f"process {side['process']:.0f} s), 2M steps "
            f"{'at' if side['to_2m_measured'] else 'projected at'} {side['to_2m'] / 60:.0f} min; training mean "
            f"{side['mean']:.0f} at the end (best {side['best']:.0f}), greedy return {side['greedy']:.0f} "
            f"(speed before: 10^7-addition loop {speed:.2f} s)",
            flush=True,
        )
    return sides


if __name__ == "__main__":
    main()
