"""RL Zoo's first environments, rlrt against Stable-Baselines3: LunarLander-v3 (`rlrt train --preset
lunarlander-ppo`) and Hopper-v5 (`--preset mujoco-hopper-ppo`), each against SB3 PPO with the RL Zoo hyperparameters
the preset was translated from (bench/sb3_zoo.py), alternately in one run on the same machine: round N runs rlrt
then SB3, both seeded N. Each side stops at its preset's pass bar (the 100-episode training mean: LunarLander 200,
Hopper 2400) or after SECONDS of training (rlrt's time_total_s; SB3's from its first step: neither counts its
start-up). Reported per environment: the median seconds from
process start to the pass bar (inf when a side did not reach it within the budget) and the median training mean
when the side stopped, with the SB3/rlrt ratio of each. Videos are off (SB3 films none).

    python bench/zoo_vs_sb3.py [--env LunarLander-v3|Hopper-v5] [--rounds 3] [--seconds 1800] [--under-load [NICE]]

``--under-load``: under the standard background load (bench/load.py: one busy process per core at nice 19, or NICE).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
from pathlib import Path

from common import OUT, load_key, load_name, machine, python, record, rlrt_env, stream_process, write_tree
from load import add_load_argument, load_from

PRESETS = {"LunarLander-v3": ("lunarlander-ppo", 200.0), "Hopper-v5": ("mujoco-hopper-ppo", 2400.0)}
"""Each environment's preset and its pass bar (the presets' pass_bar; SB3 stops at the same)."""


def side_result(log: Path, code: int, wall: float, reached: float | None) -> tuple[float, float, float]:
    """(seconds from process start to the pass bar or inf, the last training mean printed, process seconds)."""
    text = log.read_text()
    assert code == 0, text[-3000:]
    means = re.findall(r"^episode_reward_mean: (\S+)$", text, re.M)
    return (reached if reached is not None else math.inf), float(means[-1]) if means else math.nan, wall


def ours(base: Path, env: str, seconds: float, seed: int) -> tuple[float, float, float]:
    """`rlrt train` of the env's preset, stopped by its pass bar or ``seconds`` of training."""
    preset, bar = PRESETS[env]
    shutil.rmtree(base, ignore_errors=True)
    write_tree(
        base, {"preset": preset, "seed": seed, "record_video_every": 0, "rl.training.stop.time_total_s": seconds}
    )
    code, wall, reached = stream_process(
        [python(), "-m", "runtime.cli", "train"],
        rlrt_env(base),
        base / "rlrt.log",
        watch="episode_reward_mean",
        threshold=bar,
    )
    return side_result(base / "rlrt.log", code, wall, reached)


def theirs(base: Path, env: str, seconds: float, seed: int) -> tuple[float, float, float]:
    """bench/sb3_zoo.py on the same env, pass bar and budget."""
    _, bar = PRESETS[env]
    base.mkdir(parents=True, exist_ok=True)
    code, wall, reached = stream_process(
        [python(), "bench/sb3_zoo.py", env, str(bar), str(seconds), str(seed)],
        rlrt_env(base),
        base / "sb3.log",
        watch="episode_reward_mean",
        threshold=bar,
    )
    return side_result(base / "sb3.log", code, wall, reached)


def race(env: str, rounds: int, seconds: float, under_load: int | None = None) -> None:
    """``rounds`` alternated rounds on ``env``; one line a round and a summary line, recorded as the env's results row
    (bench/results/results.json)."""
    to_bar: dict[str, list[float]] = {"rlrt": [], "SB3": []}
    final: dict[str, list[float]] = {"rlrt": [], "SB3": []}
    for round_ in range(rounds):
        base = OUT / "zoo_vs_sb3" / env / f"round{round_}"
        parts = []
        for name, run in (("rlrt", ours), ("SB3", theirs)):
            reached, mean, wall = run(base / name, env, seconds, round_)
            to_bar[name].append(reached)
            final[name].append(mean)
            parts.append(
                f"{name} {reached:.1f} s to the bar, training mean {mean:.1f} at its stop (process {wall:.1f} s)"
            )
        print(f"{env} round {round_}: {'; '.join(parts)}; load average {os.getloadavg()[0]:.1f}", flush=True)
    ours_bar, sb3_bar = statistics.median(to_bar["rlrt"]), statistics.median(to_bar["SB3"])
    ratio = sb3_bar / ours_bar if math.isfinite(ours_bar) else math.nan
    print(
        f"{env}: median seconds to the pass bar {PRESETS[env][1]:g}: rlrt {ours_bar:.1f}, SB3 {sb3_bar:.1f} "
        f"(SB3/rlrt {ratio:.2f}); median training mean at the stop: rlrt {statistics.median(final['rlrt']):.1f}, "
        f"SB3 {statistics.median(final['SB3']):.1f} (budget {seconds:g} s a side)",
        flush=True,
    )
    record(
        f"zoo-vs-sb3-{env}/{load_key(under_load)}",
        (
            f"rlrt {ours_bar:.0f} s vs SB3 {sb3_bar:.0f} s: {ratio:.2f}"
            if math.isfinite(ours_bar) and math.isfinite(sb3_bar)
            else f"bar: rlrt {ours_bar:.0f} s, SB3 {sb3_bar:.0f} s"
        )
        + f"; mean {statistics.median(final['rlrt']):.0f} vs {statistics.median(final['SB3']):.0f}"
        f" ({rounds} round(s) of {seconds:g} s)",
        load_name(under_load),
        figure=f"{env} vs SB3, RL Zoo's settings",
        goal="report",
        write_up="zoo.md",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--env", choices=sorted(PRESETS), action="append", help="an environment to race (repeatable; default: both)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--seconds", type=float, default=1800.0, help="each side's budget of training seconds (start-up not counted)"
    )
    add_load_argument(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    with load_from(args.under_load) as load:
        print(load, flush=True)
        for env in args.env or sorted(PRESETS):
            race(env, args.rounds, args.seconds, args.under_load)


if __name__ == "__main__":
    main()
