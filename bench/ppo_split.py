"""Where a PPO iteration's seconds go, with RLlib's own timers: sampling (the env runners), the learner's update
(SGD), and the weight sync, for the configuration an rlrt job resolved (its config.json, data only; RLlib's API and
RLlib's learner unless ``--rlrt-learner``) with settings changed by ``--set KEY=JSON`` (``num_gpus_per_learner=1``
puts the learner on the GPU); also the env's own ceiling (random actions, in one process and in one per CPU at once).

    python bench/ppo_split.py CONFIG_JSON ITERATIONS [--set num_epochs=5 ...] [--threads N] [--ceiling-seconds 20]
                             [--rlrt-learner]
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing
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

ALIASES = {
    "RoboschoolHopper-v1": "HopperBulletEnv-v0",
    "RoboschoolHumanoid-v1": "HumanoidBulletEnv-v0",
    "RoboschoolReacher-v1": "ReacherBulletEnv-v0",
}


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


def ceiling_all_cpus(env_id: str, seconds: float, processes: int) -> float:
    """Env steps/s with random actions in ``processes`` processes at once, summed: what the machine's cores can step
    together (less than ``processes`` times one process where the cores share a clock or a cache)."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return sum(pool.starmap(ceiling, [(env_id, seconds)] * processes))


def this_iterations(timers: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """This iteration's own seconds per timer. RLlib reports each timer as an exponential moving average over the
    iterations (``EmaStats``, coefficient 0.01 by default): after the first iteration its value is mostly the first
    iteration's. Inverting the average gives the last iteration's; its ``training_iteration`` matches the wall clock."""
    from ray.rllib.utils.metrics.stats.ema import EmaStats

    coeff = inspect.signature(EmaStats.__init__).parameters["ema_coeff"].default
    return {
        key: value if key not in before else (value - (1.0 - coeff) * before[key]) / coeff
        for key, value in timers.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config_json")
    parser.add_argument("iterations", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in the learner (0: torch's default)")
    parser.add_argument("--ceiling-seconds", type=float, default=0.0)
    parser.add_argument(
        "--rlrt-learner",
        action="store_true",
        help="rlrt's PPO learner (a fused Adam, KL and clip-fraction logging) instead of RLlib's",
    )
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
    if args.rlrt_learner:
        from runtime.backends.rllib.ppo_learner import ppo_learner_class

        config.training(learner_class=ppo_learner_class())
    print(
        f"learner: {config.learner_class.__name__} on {'the GPU' if config.num_gpus_per_learner else 'the CPU'}; "
        f"{config.num_env_runners} env runners of {config.num_envs_per_env_runner} envs",
        flush=True,
    )
    algo = config.build_algo()
    rows: list[dict[str, float]] = []
    smoothed: dict[str, float] = {}
    for iteration in range(args.iterations):
        started = time.monotonic()
        result = algo.train()
        wall = time.monotonic() - started
        timers = result.get("timers", {})
        latest = this_iterations(timers, smoothed)
        smoothed = timers
        steps = int(result["env_runners"]["num_env_steps_sampled"])
        row = {
            "wall": wall,
            "steps": steps,
            "sample": latest.get("env_runner_sampling_timer", float("nan")),
            "learn": latest.get("learner_update_timer", float("nan")),
            "sync": latest.get("synch_weights", float("nan")),
        }
        rows.append(row)
        print(
            f"iteration {iteration + 1}: {wall:.2f} s, {steps} steps ({steps / wall:.0f}/s); sampling "
            f"{row['sample']:.2f} s, learner update {row['learn']:.2f} s, weight sync {row['sync']:.3f} s "
            f"(RLlib's whole iteration {latest.get('training_iteration', float('nan')):.2f} s)",
            flush=True,
        )
    algo.stop()
    ray.shutdown()
    later = rows[1:] or rows  # the first iteration builds and warms up
    for key in ("wall", "sample", "learn", "sync"):
        print(f"median {key}: {statistics.median(r[key] for r in later):.3f} s", flush=True)
    rate = statistics.median(r["steps"] / r["wall"] for r in later)
    print(f"median env steps/s: {rate:.0f}", flush=True)
    if args.ceiling_seconds:
        top = ceiling(env_id, args.ceiling_seconds)
        cpus = os.cpu_count() or 1
        together = ceiling_all_cpus(env_id, args.ceiling_seconds, cpus)
        print(
            f"env ceiling, random actions: one process {top:.0f} steps/s; {cpus} processes at once {together:.0f} "
            f"steps/s; training at {rate / together:.1%} of the {cpus}-CPU ceiling",
            flush=True,
        )
    print(f"numpy {np.__version__}, torch {torch.__version__}, ray {ray.__version__}")


if __name__ == "__main__":
    main()
