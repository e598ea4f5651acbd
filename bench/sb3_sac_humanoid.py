"""Stable-Baselines3 SAC with RL Zoo's HumanoidBulletEnv-v0 entry (rl-baselines3-zoo hyperparams/sac.yml:
observations normalised by VecNormalize, rewards not; learning rate lin_3e-4 over the entry's 20M steps; buffer 1M;
batch 64; ent_coef auto; one gradient step per env step; 1,000 random steps first), SB3's defaults for the rest
(gamma 0.99, tau 0.005, 256x256 ReLU networks), one torch thread, for SECONDS of wall time from its first step.

Prints `sb3_learning_starts_s`, `sb3_steps`, `sb3_seconds` and `sb3_episode_reward_mean` (the last 100 episodes'
mean, SB3's ep_rew_mean) for bench/sac_vs_sb3.py.

    python bench/sb3_sac_humanoid.py SECONDS [SEED]
"""

import sys
import time

import gymnasium as gym
import numpy as np
import pybullet_envs_gymnasium  # noqa: F401  (registers HumanoidBulletEnv-v0)
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

N_TIMESTEPS = 20_000_000
LEARNING_STARTS = 1_000


class Timer(BaseCallback):
    """Stops after ``seconds`` from the first step; notes when learning began."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = 0.0
        self.learning = 0.0

    def _on_training_start(self) -> None:
        self.started = time.monotonic()

    def _on_step(self) -> bool:
        if self.num_timesteps == LEARNING_STARTS:
            self.learning = time.monotonic()
        return time.monotonic() - self.started < self.seconds


def main() -> None:
    seconds = float(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    torch.set_num_threads(1)
    env = VecNormalize(
        VecMonitor(DummyVecEnv([lambda: gym.make("HumanoidBulletEnv-v0")])), norm_obs=True, norm_reward=False
    )
    start = 3e-4
    model = SAC(
        "MlpPolicy",
        env,
        learning_rate=lambda remaining: remaining * start,
        buffer_size=1_000_000,
        batch_size=64,
        ent_coef="auto",
        train_freq=1,
        gradient_steps=1,
        learning_starts=LEARNING_STARTS,
        seed=seed,
        device="cpu",
    )
    timer = Timer(seconds)
    model.learn(N_TIMESTEPS, callback=timer)
    ended = time.monotonic()
    returns = [episode["r"] for episode in model.ep_info_buffer or []]
    print(f"sb3_learning_starts_s: {timer.learning - timer.started:.2f}")
    print(f"sb3_steps: {model.num_timesteps}")
    print(f"sb3_seconds: {ended - timer.started:.2f}")
    print(f"sb3_episode_reward_mean: {float(np.mean(returns)) if returns else float('nan'):.2f}")


if __name__ == "__main__":
    main()
