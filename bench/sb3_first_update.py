"""Stable-Baselines3 PPO on CartPole-v1, one update with the cartpole-ppo preset's sizes (2048 env steps from 32
envs, minibatches of 256, 10 epochs, gamma 0.98, GAE lambda 0.8, lr 1e-3, clip 0.2, 64x64 networks): prints the
seconds from process start to the end of that first update (``sb3_first_update_s``). bench/first_result.py runs it
beside a one-iteration `rlrt train`.

    python bench/sb3_first_update.py
"""

import time

START = time.monotonic()

import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=32, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=256,
        n_epochs=10,
        gae_lambda=0.8,
        gamma=0.98,
        learning_rate=1e-3,
        clip_range=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        seed=0,
        verbose=0,
        policy_kwargs={"net_arch": [64, 64]},
    )
    model.learn(total_timesteps=2048)
    print(f"sb3_first_update_s: {time.monotonic() - START:.2f}", flush=True)
    print(f"sb3_steps: {model.num_timesteps}", flush=True)


if __name__ == "__main__":
    main()
