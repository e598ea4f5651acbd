"""The constructs of the public SageMaker RL Ray examples beyond the seeds (amazon-sagemaker-examples'
``reinforcement_learning/``: the resource-allocation examples' bin packing, news vendor and vehicle routing, the offline
cart-pole), in scripts written here in their style, run through the container's ``train`` in script mode (the
``rlrt_job`` fixture), then evaluated as their notebooks' evaluation cell does.

- an old gym env module in ``src/`` imported inside ``register_env_creator()``, with a ``Dict`` observation
  (``action_mask`` + ``real_obs``) and an ``info`` keyed by ints; the experiment's ``"custom_model": "action_mask"``
  (RLlib's masking module takes its place), ``framework: tf``, ``ignore_worker_failures``, script-level
  hyperparameters read from ``sys.argv``, and RLlib 1.x's ``output`` to a SageMaker path (``/opt/ml/output/data/...``),
  which a local job keeps in its own tree;
- the notebook's evaluation cell naming the environment by the name the script registered.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.pytest_plugin import RlrtJobs
from tests.conftest import REPO_ROOT

SHELF_ENV = '''
import gym
import numpy as np
from gym import spaces


class ShelfEnvironment(gym.Env):
    """Stock items of sizes 1 or 2 onto shelves of a given capacity (gym 0.21 API, no seed())."""

    def __init__(self, env_config={}):
        self.capacity = int(env_config.get("shelf_capacity", 4))
        self.shelves = 3
        self.horizon = 12
        self.action_space = spaces.Discrete(self.shelves)
        self.observation_space = spaces.Dict({
            "action_mask": spaces.Box(0, 1, shape=(self.shelves,), dtype=np.float32),
            "real_obs": spaces.Box(0, self.capacity, shape=(self.shelves + 1,), dtype=np.uint32),
        })

    def _observation(self):
        free = self.capacity - self.levels
        mask = (free >= self.item).astype(np.float32)
        if not mask.any():
            mask[:] = 1.0
        return {"action_mask": mask, "real_obs": np.append(self.levels, self.item).astype(np.uint32)}

    def reset(self):
        self.levels = np.zeros(self.shelves, dtype=np.int64)
        self.item, self.steps = 1, 0
        return self._observation()

    def step(self, action):
        self.steps += 1
        fits = self.levels[action] + self.item <= self.capacity
        self.levels[action] = min(self.capacity, self.levels[action] + self.item)
        reward = 1.0 if fits else -1.0
        if (self.levels == self.capacity).all():
            self.levels[:] = 0
        self.item = 1 + self.steps % 2
        counts = {size: int((self.levels == size).sum()) for size in range(self.capacity + 1)}
        return self._observation(), reward, self.steps >= self.horizon, counts
'''

SHELF_SCRIPT = """
import sys

from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher

script_args = {}


class MyLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        from shelf_env import ShelfEnvironment

        register_env("ShelfStocking-v1", lambda env_config: ShelfEnvironment(env_config))

    def get_experiment_config(self):
        return {
            "training": {
                "env": "ShelfStocking-v1",
                "run": "PPO",
                "config": {
                    "framework": "tf",
                    "ignore_worker_failures": True,
                    "gamma": 0.99,
                    "num_sgd_iter": 10,
                    "sgd_minibatch_size": 4096,
                    "train_batch_size": 32000,
                    "num_workers": self.num_cpus - 1,
                    "num_gpus": self.num_gpus,
                    "batch_mode": "complete_episodes",
                    "output": "/opt/ml/output/data/shelf-out",
                    "env_config": {"shelf_capacity": int(script_args["shelf_capacity"])},
                    "model": {
                        "custom_model": "action_mask",
                        "fcnet_hiddens": [32, 32],
                        "custom_model_config": {"shelves": 3},
                    },
                },
                "checkpoint_freq": 1,
            }
        }


if __name__ == "__main__":
    for i in range(1, len(sys.argv), 2):
        script_args[sys.argv[i].split("--", 1)[1]] = sys.argv[i + 1]
    MyLauncher().train_main()
"""

TINY = {
    "rl.training.config.train_batch_size": 120,
    "rl.training.config.sgd_minibatch_size": 60,
    "rl.training.config.num_sgd_iter": 1,
}


@pytest.mark.slow
def test_an_action_masked_old_gym_env_script_trains_writes_its_episodes_in_the_tree_and_evaluates(
    rlrt_job: RlrtJobs, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "shelf_env.py").write_text(textwrap.dedent(SHELF_ENV))
    (src / "train_shelves.py").write_text(textwrap.dedent(SHELF_SCRIPT))
    run = rlrt_job.script(src, "train_shelves.py", {"shelf_capacity": 4, **TINY}, timeout=400)
    assert run.returncode == 0, run.output[-4000:]
    assert run.failure is None and run.last("episode_reward_mean") is not None
    assert (
        "observations carry an action_mask: PPO trains RLlib's action-masking module, in place of the script's "
        "custom model 'action_mask'"
    ) in run.output
    assert "hyperparameters for the script itself, not read by rlrt: shelf_capacity" in run.output
    # RLlib 1.x's output to SageMaker's /opt/ml/output/data: in this job's own tree (SAGEMAKER_BASE_DIR).
    episodes = run.base / "output" / "data" / "shelf-out"
    assert f"every finished episode is written to {episodes} " in run.output
    assert any(episodes.iterdir())
    assert (run.model_dir / "policy.onnx").is_file()
    # The notebook's evaluation cell: evaluate-ray.py, the model channel, the env by the name the script registered.
    evaluation = rlrt_job.evaluate(
        run.model_dir,
        "evaluate-ray.py",
        REPO_ROOT / "entrypoints",
        {"evaluate_episodes": 2, "algorithm": "PPO", "env": "ShelfStocking-v1"},
    )
    assert evaluation.returncode == 0, evaluation.output[-4000:]
    assert evaluation.output.count("Episode reward: ") == 2
    assert "on sagemaker_rl/ShelfStocking-v1 for 2 episode(s)" in evaluation.output
