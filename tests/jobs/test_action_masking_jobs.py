"""Action masking without a custom model: a user env whose observation is a Dict with an ``action_mask``
entry (the SageMaker RL examples' convention: here ``{"action_mask", "real_obs"}``, as their bin-packing and
news-vendor envs have it) trains with RLlib's masking PPO module out of the box; masked actions are never taken, and
the exports take the mask (each served row: the mask, then the observation)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.jobs.test_sagemaker_rl_jobs import TINY, run_script_mode

MASKED_SCRIPT = '''
import gym
import numpy as np
from gym import spaces
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


class Shelves(gym.Env):
    """Put an item on one of 4 shelves; a full shelf (mask 0) may not be chosen: choosing it would crash."""

    def __init__(self, config):
        self.observation_space = spaces.Dict({
            "action_mask": spaces.Box(0, 1, shape=(4,), dtype=np.int64),
            "real_obs": spaces.Box(0, 10, shape=(4,), dtype=np.float32),
        })
        self.action_space = spaces.Discrete(4)
        self.rng = np.random.default_rng(0)

    def _obs(self):
        return {"action_mask": (self.load < 3).astype(np.int64), "real_obs": self.load.astype(np.float32)}

    def reset(self):
        self.load = self.rng.integers(0, 4, size=4)
        self.load[self.rng.integers(0, 4)] = 0
        self.steps = 0
        return self._obs()

    def step(self, action):
        if self.load[action] >= 3:
            raise RuntimeError(f"shelf {action} is full: the mask said so")
        self.load[action] += 1
        self.steps += 1
        done = self.steps >= 20 or bool((self.load >= 3).all())
        return self._obs(), 1.0, done, {}


class Launcher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("Shelves-v0", lambda config: Shelves(config))

    def get_experiment_config(self):
        return {"training": {"env": "Shelves-v0", "run": "PPO", "stop": {"training_iteration": 1},
                             "config": {"num_workers": 1}}}


if __name__ == "__main__":
    Launcher().train_main()
'''


@pytest.mark.slow
def test_an_env_with_an_action_mask_trains_and_serves_the_mask(tmp_path) -> None:
    from runtime.serving.model_store import OnnxPolicy

    run, tree = run_script_mode(
        tmp_path,
        "train.py",
        {"train.py": MASKED_SCRIPT},
        {**TINY, "rl.training.stop.training_iteration": 2},
        timeout=400,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "observations carry an action_mask: PPO trains RLlib's action-masking module" in output
    assert "shelf" not in output  # no masked action was ever taken (the env raises on one)
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["serving"]["inputs"]["observations"]["shape"] == [None, 8]  # 4 mask entries, then 4 loads
    policy = OnnxPolicy(tree.model)
    rng = np.random.default_rng(1)
    masks = rng.integers(0, 2, size=(64, 4))
    masks[np.arange(64), rng.integers(0, 4, size=64)] = 1  # at least one allowed action per row
    loads = rng.uniform(0, 3, size=(64, 4))
    served = policy.predict(np.concatenate([masks, loads], axis=1).astype(np.float32))
    assert all(masks[i, a] == 1 for i, a in enumerate(served["actions"].tolist()))
    np.testing.assert_allclose(served["action_probabilities"][masks == 0], 0.0, atol=1e-6)
