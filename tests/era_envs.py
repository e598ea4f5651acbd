"""Environments written as SageMaker RL's users wrote them for gym 0.21 / 0.26 and NumPy 1 (never imported before
``sagemaker_rl.compat.era.install``: it uses ``np.int`` when imported). Used as they are by tests/unit/test_era.py
and, as a launcher script's source-dir module, by tests/jobs/test_era_envs_jobs.py."""

import gym
import numpy as np
from gym import spaces
from gym.envs.registration import EnvSpec

COUNT = np.int  # NumPy 1's alias, at import


class EraKnapsack(gym.Env):
    """gym 0.21: ``reset() -> obs``, ``step -> (obs, reward, done, info)``, ``seed()``, an ``EnvSpec`` without an
    entry point, and uint32 observations with an infinite bound (the knapsack example's)."""

    metadata = {"render.modes": []}

    def __init__(self, env_config=None):
        self.spec = EnvSpec("EraKnapsack-v0")
        self.observation_space = spaces.Box(
            low=np.array([0, 0, 0, 0]), high=np.array([30, np.inf, 10, 20]), dtype=np.uint32
        )
        self.action_space = spaces.Discrete(2)
        self.seed()

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)
        return [seed]

    def _obs(self):
        return np.array([self.weight, self.value, self.item, self.left], dtype=np.uint32)

    def reset(self):
        self.weight, self.value, self.left = 0, 0, 20
        self.item = int(self.rng.randint(1, 10))
        return self._obs()

    def step(self, action):
        taken = np.zeros(1, dtype=np.bool8)
        reward = 0.0
        if action == 1 and self.weight + self.item <= 30:
            self.weight += self.item
            self.value += self.item
            reward = float(self.item)
            taken[0] = True
        self.left -= 1
        self.item = COUNT(self.rng.randint(1, 10))
        done = self.left <= 0
        return self._obs(), reward, done, {"taken": bool(taken[0]), "dtype": np.float}


class EraCounter(gym.Env):
    """gym 0.26: ``reset(seed=, options=) -> (obs, info)``, five-tuple ``step``, no ``seed()``, int16 observations."""

    def __init__(self, env_config=None):
        self.observation_space = spaces.Box(-100, 100, shape=(3,), dtype=np.int16)
        self.action_space = spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = np.zeros(3, dtype=np.int16)
        self.steps = 0
        return self.state.copy(), {}

    def step(self, action):
        self.state[int(action)] += 1
        self.steps += 1
        return self.state.copy(), float(action == 2), False, self.steps >= 10, {}
