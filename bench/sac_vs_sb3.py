"""SAC on PyBullet's Humanoid, rlrt against Stable-Baselines3: env steps per second of training after the warm-up,
`rlrt train --preset humanoid-sac` (RLlib's SAC with RL Zoo's HumanoidBulletEnv-v0 entry) against SB3's SAC with the
same entry (bench/sb3_sac_humanoid.py), alternately in one run: round N runs rlrt then SB3, both seeded N, each for
SECONDS of training. An off-policy method's wall time is its updates: both take one 64-transition batch per env
step after 1,000 random steps, so steps/s after the warm-up is the rate at which each learns.

    python bench/sac_vs_sb3.py [--rounds 2] [--seconds 300] [--under-load [NICE]]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics

from common import OUT, REPO, load_key, load_name, machine, python, record, stream_process, train_for
from load import add_load_argument, load_from

LEARNING_STARTS = 1_000


def ours(seconds: float, seed: int) -> tuple[float, float]:
    """rlrt's env steps/s after the warm-up and its last training mean."""
    base = OUT / "sac_vs_sb3" / f"rlrt-{seed}"
    shutil.rmtree(base, ignore_errors=True)
    rows, _ = train_for(base, "humanoid-sac", seconds, hyperparameters={"seed": seed, "record_video_every": 0})
    learning = [row for row in rows if int(row["timesteps_total"]) > LEARNING_STARTS]
    first, last = learning[0], learning[-1]
    rate = (int(last["timesteps_total"]) - int(first["timesteps_total"])) / (
        float(last["time_total_s"]) - float(first["time_total_s"])
    )
    return rate, float(last["episode_reward_mean"])


def theirs(seconds: float, seed: int) -> tuple[float, float]:
    """SB3's env steps/s after the warm-up and its last training mean."""
    log = OUT / "sac_vs_sb3" / f"sb3-{seed}.log"
    code, _, _ = stream_process(
        [python(), str(REPO / "bench" / "sb3_sac_humanoid.py"), str(seconds), str(seed)],
        {**os.environ, "OMP_NUM_THREADS": "1"},
        log,
    )
    text = log.read_text()
    assert code == 0, text[-3000:]
    value = {key: float(found) for key, found in re.findall(r"^sb3_(\w+): (\S+)$", text, re.M)}
    rate = (value["steps"] - LEARNING_STARTS) / (value["seconds"] - value["learning_starts_s"])
    return rate, value["episode_reward_mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=300.0)
    add_load_argument(parser)
    args = parser.parse_args()
    (OUT / "sac_vs_sb3").mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}", flush=True)
    rates: dict[str, list[float]] = {"rlrt": [], "sb3": []}
    with load_from(args.under_load) as load:
        print(load, flush=True)
        for seed in range(args.rounds):
            for side, run in (("rlrt", ours), ("sb3", theirs)):
                rate, mean = run(args.seconds, seed)
                rates[side].append(rate)
                print(
                    f"round {seed}: {side} {rate:.1f} env steps/s after the warm-up, training mean {mean:.1f}",
                    flush=True,
                )
    ours_median, theirs_median = statistics.median(rates["rlrt"]), statistics.median(rates["sb3"])
    print(
        f"median env steps/s after the warm-up: rlrt {ours_median:.1f}, SB3 {theirs_median:.1f}; "
        f"rlrt/SB3 {ours_median / theirs_median:.2f}"
    )
    record(
        f"sac-vs-sb3/{load_key(args.under_load)}",
        f"{ours_median:.1f} vs {theirs_median:.1f}: {ours_median / theirs_median:.2f}",
        load_name(args.under_load),
        figure="SAC env steps/s, rlrt/SB3",
        goal="report",
        write_up="history.md",
    )


if __name__ == "__main__":
    main()
