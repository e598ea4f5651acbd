"""Tune the default preset (cartpole-ppo) for a faster time to the pass bar: seconds from process start to a
100-episode mean of 475 (the statistic of `bench/cartpole_vs_sb3.py`) for variants of the preset, each over the same
seeds.

A variant is a name and the `rl.training.config.*` keys it overrides, as JSON; the preset itself is the empty one:

    python bench/cartpole_sweep.py '{"base": {}, "mb512": {"minibatch_size": 512}}' [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import statistics

from common import OUT, machine, seconds_to_return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", type=json.loads, help="JSON object: variant name -> config overrides")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(f"machine: {machine()}", flush=True)
    for name, overrides in args.variants.items():
        seconds, steps = [], []
        for seed in seeds:
            hyperparameters = {"seed": seed, **{f"rl.training.config.{k}": v for k, v in overrides.items()}}
            reached, env_steps, _ = seconds_to_return(OUT / "cartpole_sweep" / f"{name}-{seed}", hyperparameters, 475)
            seconds.append(reached)
            steps.append(env_steps)
            print(f"{name} seed {seed}: {reached:.1f} s ({env_steps} steps)", flush=True)
        print(
            f"{name}: median {statistics.median(seconds):.1f} s, {statistics.median(steps):.0f} steps; "
            f"overrides {json.dumps(overrides)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
