"""Envs without a preset: `rlrt train --env ID` (PPO settings chosen from the env's spaces,
runtime/config/space_defaults.py) against Stable-Baselines3 PPO with RL Zoo's hyperparameters for that env
(hyperparams/ppo.yml), each for the same wall-time budget, alternating in one run on the same machine (same torch
and gymnasium).

    python bench/defaults_vs_sb3.py [--seconds 60] [--envs Acrobot-v1 Pendulum-v1 HalfCheetahBulletEnv-v0]

Prints per env and side the env steps trained in the budget and the env steps per second of training (rlrt: its
progress.csv's timesteps_total / time_total_s; SB3: steps / seconds since learn() began; both at the end of the last
whole cycle of sampling and learning, start-up left out), the load average when the side started, and the ratio
rlrt / SB3. Rollout videos are off on the rlrt side (SB3 films none). `--sb3 ENV SECONDS` runs one SB3 side (what
the comparison starts as a subprocess).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import time
from pathlib import Path

from common import OUT, machine, python, rlrt_env, stream_process

# HalfCheetahBulletEnv-v0: a PyBullet env without an rlrt preset (HopperBulletEnv-v0 has one now), and the one RL
# Zoo's PyBullet defaults were tuned on.
ENVS = ("Acrobot-v1", "Pendulum-v1", "HalfCheetahBulletEnv-v0")


def zoo_ppo(env_id: str) -> tuple[dict, int, dict | None]:
    """RL Zoo's PPO hyperparameters for ``env_id``: (PPO keyword arguments, n_envs, VecNormalize arguments)."""
    from torch import nn  # heavy: torch, only in the SB3 subprocess

    if env_id == "Acrobot-v1":
        return (
            {"n_steps": 256, "gae_lambda": 0.94, "gamma": 0.99, "n_epochs": 4, "ent_coef": 0.0},
            16,
            {"norm_obs": True, "norm_reward": False},
        )
    if env_id == "Pendulum-v1":
        return (
            {
                "n_steps": 1024,
                "gae_lambda": 0.95,
                "gamma": 0.9,
                "n_epochs": 10,
                "ent_coef": 0.0,
                "learning_rate": 1e-3,
                "clip_range": 0.2,
                "use_sde": True,
                "sde_sample_freq": 4,
            },
            4,
            None,
        )
    # The Zoo's pybullet defaults (tuned on HalfCheetahBulletEnv-v0); its Hopper and Walker sections anneal the clip.
    clip_range = (lambda progress: 0.4 * progress) if env_id in ("HopperBulletEnv-v0", "Walker2DBulletEnv-v0") else 0.4
    return (
        {
            "n_steps": 512,
            "batch_size": 128,
            "gamma": 0.99,
            "gae_lambda": 0.9,
            "n_epochs": 20,
            "ent_coef": 0.0,
            "sde_sample_freq": 4,
            "max_grad_norm": 0.5,
            "vf_coef": 0.5,
            "learning_rate": 3e-5,
            "use_sde": True,
            "clip_range": clip_range,
            "policy_kwargs": {
                "log_std_init": -2,
                "ortho_init": False,
                "activation_fn": nn.ReLU,
                "net_arch": {"pi": [256, 256], "vf": [256, 256]},
            },
        },
        16,
        {"norm_obs": True, "norm_reward": True},
    )


def run_sb3(env_id: str, seconds: float) -> None:
    """Train SB3 PPO for ``seconds`` of wall time after learn() begins; print `sb3_steps` and `sb3_seconds`."""
    if env_id.endswith("BulletEnv-v0"):
        import pybullet_envs_gymnasium  # noqa: F401 - registers the PyBullet envs
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    kwargs, n_envs, normalize = zoo_ppo(env_id)
    env = make_vec_env(env_id, n_envs=n_envs, seed=0)
    if normalize is not None:
        env = VecNormalize(env, gamma=kwargs["gamma"], **normalize)

    class Budget(BaseCallback):
        """Ends training at the first rollout that starts after ``seconds``: the figure counts whole cycles of
        sampling and learning, as rlrt's iterations do (a rollout can outlast a short budget)."""

        started = 0.0
        last = (0, 0.0)
        over = False

        def _on_training_start(self) -> None:
            self.started = time.monotonic()

        def _on_rollout_start(self) -> None:
            self.last = (self.model.num_timesteps, time.monotonic() - self.started)
            self.over = self.last[1] >= seconds

        def _on_step(self) -> bool:
            return not self.over

    budget = Budget()
    model = PPO("MlpPolicy", env, seed=0, verbose=0, **kwargs)
    model.learn(total_timesteps=10**9, callback=budget)
    print(f"sb3_steps: {budget.last[0]}\nsb3_seconds: {budget.last[1]:.3f}", flush=True)


def rlrt_side(env_id: str, seconds: float, base: Path) -> tuple[int, float]:
    """`rlrt train --env ID` for ``seconds`` of training time: (env steps, training seconds) from progress.csv."""
    shutil.rmtree(base, ignore_errors=True)
    base.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        python(),
        "-m",
        "runtime.cli",
        "train",
        "--env",
        env_id,
        "--base-dir",
        str(base),
        "--set",
        f"rl.training.stop.time_total_s={seconds}",
        "--set",
        "rl.training.stop.episode_reward_mean=1e9",
        "--set",
        "record_video_every=0",
    ]
    env = {k: v for k, v in rlrt_env(base).items() if k != "SAGEMAKER_BASE_DIR"}
    code, _, _ = stream_process(cmd, env, base.parent / f"{base.name}.log")
    text = (base.parent / f"{base.name}.log").read_text()
    assert code == 0, text[-3000:]
    chosen = re.search(r"^rlrt: PPO settings from .*$", text, re.M)
    print(chosen.group(0) if chosen else "(no space defaults line)", flush=True)
    with (base / "output" / "intermediate" / "progress.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    return int(float(last["timesteps_total"])), float(last["time_total_s"])


def sb3_side(env_id: str, seconds: float, base: Path) -> tuple[int, float]:
    base.mkdir(parents=True, exist_ok=True)
    log = base / f"sb3-{env_id}.log"
    code, _, _ = stream_process([python(), __file__, "--sb3", env_id, str(seconds)], rlrt_env(base), log)
    text = log.read_text()
    assert code == 0, text[-3000:]
    found = dict(re.findall(r"^sb3_(\w+): (\S+)$", text, re.M))
    return int(found["steps"]), float(found["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument("--sb3", nargs=2, metavar=("ENV", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sb3:
        run_sb3(args.sb3[0], float(args.sb3[1]))
        return
    print(machine(), flush=True)
    out = OUT / "defaults-vs-sb3"
    for env_id in args.envs:
        load = os.getloadavg()[0]
        steps, seconds = rlrt_side(env_id, args.seconds, out / f"rlrt-{env_id}")
        ours = steps / seconds
        print(f"{env_id} rlrt: {steps} steps in {seconds:.1f} s = {ours:.0f} env steps/s (load {load:.1f})", flush=True)
        load = os.getloadavg()[0]
        steps, seconds = sb3_side(env_id, args.seconds, out)
        theirs = steps / seconds
        print(
            f"{env_id} sb3:  {steps} steps in {seconds:.1f} s = {theirs:.0f} env steps/s (load {load:.1f})", flush=True
        )
        print(f"{env_id} rlrt/sb3 env steps/s: {ours / theirs:.2f}", flush=True)


if __name__ == "__main__":
    main()
