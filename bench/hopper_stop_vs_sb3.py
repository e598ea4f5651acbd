"""HopperBulletEnv-v0 to the seed's stop, rlrt against Stable-Baselines3, seed by seed: `rlrt train` of hopper-ppo
(its own stop: the first iteration whose 100-episode training mean reaches 2500, or 2M steps) and SB3 PPO with RL Zoo's
HopperBulletEnv-v0 hyperparameters (bench/sb3_hopper.py, stopped the same way), alternately in one run: seed N on
both sides, rlrt first. The time that counts runs from process start to the first training mean of 2500.

rlrt trains for MINUTES at most (default 60). SB3 then trains until its stop or FACTOR (default 1.2, the goal) times
rlrt's time to the stop on that seed (FACTOR times rlrt's whole run where rlrt did not stop): where SB3 has not
stopped by then, its time is at least that, and the goal holds on that seed without hours more of SB3 (it reached
~1,100 in 2M steps on this machine, rlrt 2500 in 1-1.5M). The seed's own 20 minutes are a wall-time limit that
moves with the machine's speed (rlrt's stop took 8-13 min on a day its loop probe read 0.25 s, twice that on a day
it read 0.5 s), so each line also says whether rlrt stopped within 20 minutes. Each policy is then evaluated
greedily over 20 episodes.

    python bench/hopper_stop_vs_sb3.py --seeds 0 1 2 3 4 [--minutes 60] [--factor 1.2] [--under-load [NICE]]

Each seed's figures go to bench/results/hopper_stop_runs.json under the run's load (a seed run again replaces its
entry), and the results row is made from every seed held there for that load: the median time to the stop on each side
(an SB3 miss counts as its budget, so a median with misses is a lower bound; an rlrt miss as never stopping), how many
seeds stopped, and the median greedy return. Five seeds take 2-6 h of a 2-core machine, so a run may cover some seeds
and a later one the rest; each entry keeps its date, commit and the loop probe's speed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from common import (
    OUT,
    REPO,
    found,
    greedy_return,
    load_key,
    load_name,
    machine,
    python,
    python_loop_seconds,
    record,
    rlrt_env,
    seconds_to_return,
    stream_process,
    today,
)
from load import add_load_argument, load_from

TARGET = 2500.0
RUNS = REPO / "bench" / "results" / "hopper_stop_runs.json"
EPISODES = 20
SEED_LIMIT_S = 20 * 60.0  # the seed's own wall-time limit for the stop


def rlrt(base: Path, seed: int, seconds: float) -> dict[str, Any]:
    """`rlrt train` of hopper-ppo with its return stop and ``seconds`` of training at most, then `rlrt evaluate`."""
    settings = {"preset": "hopper-ppo", "seed": seed, "rl.training.stop.time_total_s": seconds}
    reached, steps, wall = seconds_to_return(base, settings, TARGET)
    return side(None if math.isinf(reached) else reached, wall, steps, greedy_return(base, EPISODES), seconds)


def sb3(base: Path, seed: int, seconds: float) -> dict[str, Any]:
    """bench/sb3_hopper.py with the same stop and ``seconds`` of training at most; it evaluates its policy greedily
    itself."""
    base.mkdir(parents=True, exist_ok=True)
    code, wall, reached = stream_process(
        [
            python(),
            "bench/sb3_hopper.py",
            str(seconds),
            str(base),
            "--episodes",
            str(EPISODES),
            "--seed",
            str(seed),
            "--target",
            str(TARGET),
        ],
        rlrt_env(base, SB3_LOGDIR=str(base / "sb3-log")),
        base / "sb3.log",
        watch="episode_reward_mean",
        threshold=TARGET,
    )
    text = (base / "sb3.log").read_text()
    assert code == 0, text[-3000:]
    steps, greedy = int(found(r"^sb3_steps: (\d+)$", text)), float(found(r"^sb3_greedy_return: (\S+)$", text))
    return side(reached, wall, steps, greedy, seconds)


def side(reached: float | None, wall: float, steps: int, greedy: float, budget: float) -> dict[str, Any]:
    """One side's figures: seconds from process start to the stop (None: not reached), the process's wall seconds
    (with its finish and, for SB3, its greedy evaluation), env steps trained, the greedy return and its training
    budget in seconds."""
    return {
        "reached_s": reached,
        "process_s": round(wall, 1),
        "steps": steps,
        "greedy": round(greedy, 1),
        "budget_s": round(budget, 1),
    }


def stopped(entry: dict[str, Any], limit: float) -> bool:
    return entry["reached_s"] is not None and entry["reached_s"] <= limit


def summary(entries: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """(a line per side, the results row's result) over the seeds in ``entries`` (seed -> {"rlrt": ..., "SB3": ...}).
    An SB3 run that did not stop within its budget counts at the budget, a lower bound, so a median over such runs is
    one too; an rlrt run that did not stop counts as never stopping, so rlrt's median is exact while fewer than half
    of its runs missed, and no ratio is read otherwise."""
    seeds = sorted(entries, key=int)
    times: dict[str, list[float]] = {"rlrt": [], "SB3": []}
    hits = {"rlrt": 0, "SB3": 0}
    for seed in seeds:
        for name in times:
            entry = entries[seed][name]
            hit = stopped(entry, entry["budget_s"])
            hits[name] += hit
            times[name].append(entry["reached_s"] if hit else entry["budget_s"] if name == "SB3" else math.inf)
    within = sum(1 for seed in seeds if stopped(entries[seed]["rlrt"], SEED_LIMIT_S))
    lines, parts, medians = [], [], {}
    for name in times:
        medians[name] = median = statistics.median(times[name])
        bound = ">= " if name == "SB3" and hits[name] < len(seeds) else ""
        shown = "never" if math.isinf(median) else f"{bound}{median / 60:.1f} min"
        greedy = statistics.median(entries[seed][name]["greedy"] for seed in seeds)
        lines.append(
            f"{name}: median {shown} to the stop ({hits[name]} of {len(seeds)} seeds stopped within their budget); "
            f"median greedy return {greedy:.0f}"
        )
        parts.append(f"{name} {shown} ({hits[name]}/{len(seeds)}), greedy {greedy:.0f}")
    lines.append(f"rlrt stopped within the seed's 20 minutes on {within} of {len(seeds)} seeds")
    span = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(seeds)}"
    if math.isinf(medians["rlrt"]):
        return "\n".join(lines), f"{'; '.join(parts)}: no ratio, rlrt's median seed did not stop ({span})"
    qualifier = ">= " if hits["SB3"] < len(seeds) else ""
    ratio = f"{qualifier}{medians['SB3'] / medians['rlrt']:.2f}"
    return "\n".join(lines), f"{'; '.join(parts)}: {ratio} ({span})"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--minutes", type=float, default=60.0, help="rlrt's training budget")
    parser.add_argument("--factor", type=float, default=1.2, help="SB3's budget: this times rlrt's time to the stop")
    add_load_argument(parser)
    args = parser.parse_args()
    limit = args.minutes * 60
    print(f"machine: {machine()}", flush=True)
    key = load_key(args.under_load)
    runs: dict[str, Any] = json.loads(RUNS.read_text()) if RUNS.exists() else {}
    held = runs.setdefault(key, {})
    with load_from(args.under_load) as load:
        print(load, flush=True)
        for seed in args.seeds:
            root = OUT / "hopper_stop_vs_sb3" / key / f"seed{seed}"
            shutil.rmtree(root, ignore_errors=True)
            entry: dict[str, Any] = {"commit": commit(), "date": today(), "loop_s": round(python_loop_seconds(), 2)}
            entry["rlrt"] = rlrt(root / "rlrt", seed, limit)
            ours = entry["rlrt"]["reached_s"]
            # Where rlrt did not stop, SB3 gets as long as rlrt ran: what it reaches then is still a comparison.
            budget = args.factor * (ours if stopped(entry["rlrt"], limit) else entry["rlrt"]["process_s"])
            entry["SB3"] = sb3(root / "SB3", seed, budget)
            for name in ("rlrt", "SB3"):
                reached = entry[name]["reached_s"]
                print(
                    f"seed {seed}: {name} "
                    f"{'reached 2500 at %.0f s' % reached if reached is not None else 'did not reach 2500'} "
                    f"(budget {entry[name]['budget_s']:.0f} s; {entry[name]['steps']} env steps, process "
                    f"{entry[name]['process_s']:.0f} s), greedy {entry[name]['greedy']:.0f}; load average "
                    f"{os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            held[str(seed)] = entry
            # Kept and recorded after every seed, so an interrupted run keeps the seeds it finished.
            RUNS.write_text(json.dumps(runs, indent=1) + "\n")
            lines, result = summary(held)
            print(lines, flush=True)
            record(
                f"hopper-stop-vs-sb3/{key}",
                result,
                load_name(args.under_load),
                figure="Hopper min to the seed's stop, SB3/rlrt",
                goal=">= 1.2",
                write_up="history.md",
            )


if __name__ == "__main__":
    main()
