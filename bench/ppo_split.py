"""Where a PPO iteration's seconds go, with RLlib's own timers: sampling (the env runners), the learner's update
(SGD), and the weight sync, for the configuration an rlrt job resolved (its config.json, data only; RLlib's API, no
rlrt code) with settings changed by ``--set KEY=JSON``; also the env's own ceiling (random actions, one process).

    python bench/ppo_split.py CONFIG_JSON ITERATIONS [--set num_epochs=5 ...] [--threads N] [--ceiling-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import gymnasium
import numpy as np
import ray
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env

from common import machine, settings_from

ALIASES = {"RoboschoolHopper-v1": "HopperBulletEnv-v0", "RoboschoolHumanoid-v1": "HumanoidBulletEnv-v0",
           "RoboschoolReacher-v1": "ReacherBulletEnv-v0"}


def make(env_id: str) -> gymnasium.Env:
    """The env, in any process (the import registers the PyBullet ids there)."""
    import pybullet_envs_gymnasium  # noqa: F401

    return gymnasium.make(env_id)


def ceiling(env_id: str, seconds: float) -> float:
    """Env steps/s with random actions in this process (one core): the env's own speed on this machine."""
    env = make(env_id)
    env.reset(seed=0)
    steps, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    env.close()
    return steps / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config_json")
    parser.add_argument("iterations", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in the learner (0: torch's default)")
    parser.add_argument("--ceiling-seconds", type=float, default=0.0)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    resolved = json.loads(open(args.config_json).read())
    env_id = ALIASES.get(resolved["env"], resolved["env"])
    settings: dict[str, Any] = dict(resolved["config"])
    settings.update(settings_from(args.set))
    model_config = settings.pop("model_config", {})
    settings.pop("observation_filter", None)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"settings: {json.dumps({k: v for k, v in settings.items() if k != 'lr'})}", flush=True)
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False)
    register_env("ppo-split-env", lambda env_config: make(env_id))  # env runner processes register it too
    config = PPOConfig().update_from_dict(settings).environment("ppo-split-env").framework("torch")
    config.rl_module(model_config={**config.model_config, **model_config})
    algo = config.build_algo()
    rows = []
    for iteration in range(args.iterations):
        started = time.monotonic()
        result = algo.train()
        wall = time.monotonic() - started
        timers = result.get("timers", {})
        steps = int(result["env_runners"]["num_env_steps_sampled"])
        row = {"wall": wall, "steps": steps, "sample": timers.get("env_runner_sampling_timer", float("nan")),
               "learn": timers.get("learner_update_timer", float("nan")),
               "sync": timers.get("synch_weights", float("nan"))}
        rows.append(row)
        print(f"iteration {iteration + 1}: {wall:.2f} s, {steps} steps ({steps / wall:.0f}/s); sampling "
              f"{row['sample']:.2f} s, learner update {row['learn']:.2f} s, weight sync {row['sync']:.3f} s; "
              f"timers {json.dumps({k: round(v, 3) for k, v in timers.items()})}", flush=True)
    algo.stop()
    ray.shutdown()
    later = rows[1:] or rows  # the first iteration builds and warms up
    for key in ("wall", "sample", "learn", "sync"):
        print(f"median {key}: {statistics.median(r[key] for r in later):.3f} s", flush=True)
    rate = statistics.median(r["steps"] / r["wall"] for r in later)
    print(f"median env steps/s: {rate:.0f}", flush=True)
    if args.ceiling_seconds:
        top = ceiling(env_id, args.ceiling_seconds)
        print(f"env ceiling, random actions, one process: {top:.0f} steps/s; two cores: {2 * top:.0f}; "
              f"training at {rate / (2 * top):.1%} of the two-core ceiling", flush=True)
    print(f"numpy {np.__version__}, torch {torch.__version__}, ray {ray.__version__}")


if __name__ == "__main__":
    main()
