"""Greedy evaluation of a trained rlrt model folder: rebuild its resolved configuration with RLlib's evaluation
settings, restore the checkpoint (weights and observation-filter state) and run RLlib's evaluate().

    python bench/evaluate_checkpoint.py MODEL_DIR [EPISODES]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import MappingProxyType

import ray

from runtime.hyperparameters import TrainingSpec
from runtime.rllib_backend import build_algorithm_config, register_environment


def evaluate(model_dir: Path, episodes: int) -> float:
    resolved = json.loads((model_dir / "config.json").read_text())
    spec = TrainingSpec(
        preset=resolved["preset"], env=resolved["env"], algorithm=resolved["algorithm"],
        config=MappingProxyType({**resolved["config"], "num_env_runners": 0}),
        env_config=MappingProxyType(resolved["env_config"]), stop=MappingProxyType({}),
        checkpoint_frequency=1, checkpoint_keep=1,
    )
    config = build_algorithm_config(spec, register_environment(resolved["env"]))
    config.evaluation(evaluation_interval=1, evaluation_num_env_runners=0, evaluation_duration=episodes,
                      evaluation_duration_unit="episodes", evaluation_config={"explore": False})
    config.env_runners(create_env_on_local_worker=True)
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    try:
        algo = config.build_algo()
        algo.restore_from_path(str(model_dir / "checkpoint"))
        result = algo.evaluate()
        algo.stop()
    finally:
        ray.shutdown()
    runners = result.get("env_runners", result.get("evaluation", {}).get("env_runners", {}))
    return float(runners["episode_return_mean"])


if __name__ == "__main__":
    episodes = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(f"evaluation_return_mean: {evaluate(Path(sys.argv[1]), episodes):.3f}")
