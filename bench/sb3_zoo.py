"""Stable-Baselines3 PPO with RL Zoo's tuned hyperparameters (rl-baselines3-zoo hyperparams/ppo.yml) on
LunarLander-v3 (the LunarLander-v2 entry: gymnasium 1.0 renamed the env; 16 envs x 1024 steps, batch 64, gamma 0.999,
gae_lambda 0.98, 4 epochs, ent_coef 0.01) or Hopper-v5 (the Hopper-v4 entry: VecNormalize of observations and
rewards, 1 env x 512 steps, batch 32, gamma 0.999, gae_lambda 0.99, 5 epochs, lr 9.80828e-5, ent_coef 0.00229519,
clip 0.2, max_grad_norm 0.7, vf_coef 0.835671, log_std_init -2, no orthogonal init, ReLU, separate 256x256 networks);
SB3's defaults for the rest, 1M steps, one torch thread.

Trains until the mean return of the last 100 training episodes (SB3's ep_rew_mean, the statistic of rlrt's
episode_reward_mean) reaches THRESHOLD, SECONDS of wall time have passed since training began (as rlrt's
time_total_s, which starts after Ray does), or 1M steps. After
each rollout it prints `episode_reward_mean: <x>` as rlrt does, so one watcher times both sides from process start;
then `sb3_` lines.

    python bench/sb3_zoo.py ENV THRESHOLD SECONDS [SEED]
"""

import time
from typing import Any

START = time.monotonic()

import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.vec_env import VecNormalize  # noqa: E402
from torch import nn  # noqa: E402

STEPS = 1_000_000
ZOO: dict[str, dict[str, Any]] = {
    "LunarLander-v3": dict(
        n_envs=16, normalize=False, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01
    ),
    "Hopper-v5": dict(
        n_envs=1,
        normalize=True,
        batch_size=32,
        n_steps=512,
        gamma=0.999,
        learning_rate=9.80828e-05,
        ent_coef=0.00229519,
        clip_range=0.2,
        n_epochs=5,
        gae_lambda=0.99,
        max_grad_norm=0.7,
        vf_coef=0.835671,
        policy_kwargs=dict(
            log_std_init=-2, ortho_init=False, activation_fn=nn.ReLU, net_arch=dict(pi=[256, 256], vf=[256, 256])
        ),
    ),
}


class StopAt(BaseCallback):
    """Stops at the threshold (at least 10 episodes in the mean) or the wall-time budget; prints the mean per
    rollout."""

    def __init__(self, threshold: float, seconds: float) -> None:
        super().__init__()
        self.threshold = threshold
        self.seconds = seconds
        self.reached_at: float | None = None
        self.mean = float("nan")
        self.started = 0.0

    def _on_training_start(self) -> None:
        self.started = time.monotonic()

    def _on_rollout_end(self) -> None:
        buffer = self.model.ep_info_buffer
        if buffer:
            self.mean = float(np.mean([e["r"] for e in buffer]))
            print(f"episode_reward_mean: {self.mean}", flush=True)
            if len(buffer) >= 10 and self.mean >= self.threshold and self.reached_at is None:
                self.reached_at = time.monotonic() - START

    def _on_step(self) -> bool:
        return self.reached_at is None and time.monotonic() - self.started < self.seconds


def main() -> None:
    env_id, threshold, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    torch.set_num_threads(1)
    settings = dict(ZOO[env_id])
    env = make_vec_env(env_id, n_envs=settings.pop("n_envs"), seed=seed)
    if settings.pop("normalize"):
        env = VecNormalize(env, gamma=settings["gamma"])
    model = PPO("MlpPolicy", env, seed=seed, verbose=0, **settings)
    callback = StopAt(threshold, seconds)
    model.learn(total_timesteps=STEPS, callback=callback)
    print(f"sb3_steps: {model.num_timesteps}")
    print(f"sb3_episode_reward_mean: {callback.mean}")
    print(f"sb3_seconds_to_threshold: {callback.reached_at if callback.reached_at is not None else 'not reached'}")


if __name__ == "__main__":
    main()
