"""Stable-Baselines3 PPO on CartPole-v1 with RL Zoo's tuned hyperparameters (hyperparams/ppo.yml, CartPole-v1):
n_envs 8, n_steps 32, batch_size 256, gae_lambda 0.8, gamma 0.98, n_epochs 20, ent_coef 0, linear lr 1e-3 and
clip 0.2, 1e5 steps. Stops as soon as the mean return of the last 100 training episodes (SB3's ep_rew_mean, the same
statistic as rlrt's episode_reward_mean: the last 100 episodes) reaches the threshold, and prints the time since
process start.

    python bench/sb3_cartpole.py [THRESHOLD [SEED]]
"""

import time

START = time.monotonic()

import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402


def linear(initial: float):
    return lambda progress: progress * initial


class StopAt(BaseCallback):
    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.reached_at: float | None = None

    def _on_step(self) -> bool:
        buffer = self.model.ep_info_buffer
        if buffer is not None and len(buffer) >= 10 and np.mean([e["r"] for e in buffer]) >= self.threshold:
            self.reached_at = time.monotonic() - START
            return False
        return True


def main() -> None:
    threshold = float(sys.argv[1]) if len(sys.argv) > 1 else 475.0
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(1e-3),
        clip_range=linear(0.2),
        seed=seed,
        verbose=0,
    )
    callback = StopAt(threshold)
    model.learn(total_timesteps=100_000, callback=callback)
    print(f"sb3_steps: {model.num_timesteps}")
    print(f"sb3_seconds_to_threshold: {callback.reached_at if callback.reached_at is not None else 'not reached'}")


if __name__ == "__main__":
    main()
