"""Stable-Baselines3 PPO on HopperBulletEnv-v0 with RL Zoo's tuned hyperparameters (rl-baselines3-zoo
hyperparams/ppo.yml, HopperBulletEnv-v0 = the pybullet defaults with lr 3e-5 and clip lin_0.4): VecNormalize
(observations and rewards, gamma 0.99), 16 DummyVecEnv copies, n_steps 512, batch_size 128, gamma 0.99, gae_lambda
0.9, n_epochs 20, ent_coef 0, gSDE (sde_sample_freq 4), max_grad_norm 0.5, vf_coef 0.5, learning_rate 3e-5,
clip_range linear from 0.4, log_std_init -2, no orthogonal init, ReLU, separate 256x256 policy and value networks;
2M steps.

Trains until SECONDS of wall time have passed since training began, 2M steps, or (with ``--target``) the first
rollout whose training mean reaches TARGET (the seed's stop, as rlrt's hopper-ppo stops), writing one row per
rollout (seconds, env steps, the mean return of the last 100 training episodes: SB3's ep_rew_mean, the statistic of
rlrt's episode_reward_mean) to OUT/progress.csv and, as rlrt does, an ``episode_reward_mean: X`` line; then
evaluates the policy greedily (deterministic actions, the normalisation statistics frozen) and prints `sb3_` lines.

    python bench/sb3_hopper.py SECONDS OUT [--episodes 10] [--seed 0] [--target RETURN]
"""

from __future__ import annotations

import argparse
import csv
import time
from typing import Any
from pathlib import Path

import numpy as np
import pybullet_envs_gymnasium  # noqa: F401 - registers HopperBulletEnv-v0
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

ENV = "HopperBulletEnv-v0"
STEPS = 2_000_000


def linear(initial: float):
    return lambda progress: progress * initial


class Budget(BaseCallback):
    """Stops training after ``seconds`` of wall time, or at the end of the first rollout whose training mean reaches
    ``target``; logs the curve once per rollout."""

    def __init__(self, seconds: float, path: Path, target: float = float("inf")) -> None:
        super().__init__()
        self.seconds = seconds
        self.path = path
        self.target = target
        self.started = 0.0
        self.reached = False
        self.rows: list[tuple[float, int, float]] = []

    def _on_training_start(self) -> None:
        self.started = time.monotonic()

    def _on_rollout_end(self) -> None:
        buffer = self.model.ep_info_buffer
        mean = float(np.mean([e["r"] for e in buffer])) if buffer else float("nan")
        self.rows.append((time.monotonic() - self.started, self.model.num_timesteps, mean))
        with self.path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["seconds", "timesteps_total", "episode_reward_mean"])
            writer.writerows(self.rows)
        print(f"episode_reward_mean: {mean}", flush=True)
        self.reached = mean >= self.target

    def _on_step(self) -> bool:
        return not self.reached and time.monotonic() - self.started < self.seconds


def evaluate(model: PPO, stats: VecNormalize, episodes: int) -> float:
    """Mean return of ``episodes`` greedy episodes, observations normalised with the training statistics."""
    env = make_vec_env(ENV, n_envs=1, seed=1000)
    env = VecNormalize(env, norm_obs=True, norm_reward=False, gamma=0.99, training=False)
    env.obs_rms = stats.obs_rms
    returns: list[float] = []
    observation: Any = env.reset()  # VecEnv.step may also answer a tuple of arrays; reset does not say so
    while len(returns) < episodes:
        action, _ = model.predict(observation, deterministic=True)
        observation, _, done, info = env.step(action)
        if done[0]:
            returns.append(float(info[0]["episode"]["r"]))
    env.close()
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seconds", type=float)
    parser.add_argument("out", type=Path)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=float("inf"), help="stop at this training mean")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = VecNormalize(make_vec_env(ENV, n_envs=16, seed=args.seed), gamma=0.99)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=512,
        batch_size=128,
        gamma=0.99,
        gae_lambda=0.9,
        n_epochs=20,
        ent_coef=0.0,
        use_sde=True,
        sde_sample_freq=4,
        max_grad_norm=0.5,
        vf_coef=0.5,
        learning_rate=3e-5,
        clip_range=linear(0.4),
        seed=args.seed,
        verbose=0,
        policy_kwargs=dict(
            log_std_init=-2, ortho_init=False, activation_fn=nn.ReLU, net_arch=dict(pi=[256, 256], vf=[256, 256])
        ),
    )
    budget = Budget(args.seconds, args.out / "progress.csv", args.target)
    model.learn(total_timesteps=STEPS, callback=budget)
    mean = float(np.mean([e["r"] for e in model.ep_info_buffer or []]))
    print(f"sb3_seconds: {time.monotonic() - budget.started:.1f}")
    print(f"sb3_steps: {model.num_timesteps}")
    print(f"sb3_episode_reward_mean: {mean:.2f}")
    print(f"sb3_best_episode_reward_mean: {max(r[2] for r in budget.rows if r[2] == r[2]):.2f}")
    print(f"sb3_greedy_return: {evaluate(model, env, args.episodes):.2f}")


if __name__ == "__main__":
    main()
