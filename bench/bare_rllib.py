"""A bare RLlib PPO script (no rlrt code): builds the configuration rlrt resolved (read from its config.json, data
only) with RLlib's own API and trains for a number of iterations, printing env steps/s of the training loop. It uses
the torch thread count rlrt chose and recorded (config.json's ``threads``), so that the comparison measures rlrt's
own cost, not the thread choice (bench/threads_ab.py measures that); ``--torch-default-threads`` leaves torch's
default (one per core) instead.

    python bench/bare_rllib.py CONFIG_JSON ITERATIONS [--torch-default-threads]
"""

import json
import os
import sys
import time

import ray
from ray.rllib.algorithms.ppo import PPOConfig


def main() -> None:
    resolved = json.loads(open(sys.argv[1]).read())
    iterations = int(sys.argv[2])
    threads = resolved.get("threads") or {}
    if threads.get("learner") and "--torch-default-threads" not in sys.argv[3:]:
        import torch

        # Remote env runners (Ray workers, started by the raylet ray.init starts below) inherit these, as rlrt gives
        # its workers the env runners' count; this process (the learner, and the local env runner) is set directly.
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(
            threads.get("env_runner") or threads["learner"]
        )
        torch.set_num_threads(int(threads["learner"]))
        print(f"bare_torch_threads: learner {threads['learner']}, env runners {os.environ['OMP_NUM_THREADS']}")
    settings = dict(resolved["config"])
    model_config = settings.pop("model_config", {})
    settings.pop("observation_filter", None)
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    config = PPOConfig().update_from_dict(settings).environment(resolved["env"]).framework("torch")
    config.rl_module(model_config={**config.model_config, **model_config})
    algo = config.build_algo()
    steps = 0
    spent = 0.0
    for _ in range(iterations):
        start = time.monotonic()
        result = algo.train()
        spent += time.monotonic() - start
        steps += int(result["env_runners"]["num_env_steps_sampled"])
    print(f"bare_steps: {steps}")
    print(f"bare_seconds: {spent:.3f}")
    print(f"bare_steps_per_s: {steps / spent:.1f}")
    algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
