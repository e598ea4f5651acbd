"""Benchmark: PPO on the stand-in Unity "Basic" game, and the Unity protocol's overhead next to CartPole.

Measures, on this machine:

1. raw environment steps/s, one environment, random actions: the Unity path (``UnityGymEnv`` -> gRPC -> the stand-in
   player process, ML-Agents' protobuf messages) against gymnasium's CartPole-v1 in process;
2. ``rlrt train`` with the ``unity-basic-ppo`` preset and the stand-in player in the job's ``train`` channel (the
   seed's custom-executable flow): seconds until ``episode_reward_mean >= 0.9`` (pass bar; the goal is < 200 s),
   and training throughput (sampled env steps per second of training);
3. the same PPO settings on CartPole-v1 for the same number of iterations: training throughput.

Usage: ``python bench/unity_basic.py [--out bench/results/unity.md] [--budget-s 200]``. Results go to ``--out``
(Markdown) and stdout. The stand-in player is tests/unity_player (the real Unity game cannot run here).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from unity_player.build import make_player  # noqa: E402

from envs.unity.gym_env import UnityGymEnv  # noqa: E402

# The PPO settings of presets/unity-basic-ppo.yaml, applied to CartPole for the throughput comparison.
PPO_SETTINGS = {
    "rl.training.config.gamma": 0.99,
    "rl.training.config.lambda": 0.95,
    "rl.training.config.lr": 0.001,
    "rl.training.config.num_epochs": 10,
    "rl.training.config.minibatch_size": 128,
    "rl.training.config.train_batch_size_per_learner": 1000,
    "rl.training.config.num_envs_per_env_runner": 2,
    "rl.training.config.entropy_coeff": 0.0,
    "rl.training.config.vf_loss_coeff": 0.5,
    "rl.training.config.clip_param": 0.2,
    "rl.training.config.model_config": {"fcnet_hiddens": [32, 32], "vf_share_layers": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1] if s.getsockname()[1] < 60000 else 40000


def raw_steps_per_s(make, steps: int) -> float:
    env = make()
    try:
        env.reset(seed=0)
        started = time.perf_counter()
        for _ in range(steps):
            _obs, _r, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        return steps / (time.perf_counter() - started)
    finally:
        env.close()


def job_tree(base: Path, hyperparameters: dict) -> Path:
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (base / "input" / "data").mkdir(parents=True, exist_ok=True)
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    (config / "inputdataconfig.json").write_text(json.dumps({"train": {"TrainingInputMode": "File"}}))
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
    return base


def run_training(base: Path, default_preset: str) -> tuple[float, list[dict[str, float]]]:
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base),
        "SM_NUM_CPUS": str(os.cpu_count() or 2),
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": str(REPO),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "train", "--default-preset", default_preset],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"training failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    with open(base / "output" / "intermediate" / "progress.csv") as handle:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
    return wall, rows


def throughput(rows: list[dict[str, float]]) -> float:
    return rows[-1]["timesteps_total"] / rows[-1]["time_total_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "unity.md")
    parser.add_argument("--budget-s", type=float, default=200.0, help="time_total_s stop for the Unity run")
    parser.add_argument("--raw-steps", type=int, default=3000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rlrt-bench-unity-"))
    player = make_player(work / "player", "Basic")
    unity_raw = raw_steps_per_s(lambda: UnityGymEnv({"player": str(player), "base_port": free_port()}), args.raw_steps)
    cartpole_raw = raw_steps_per_s(lambda: gym.make("CartPole-v1"), args.raw_steps * 10)
    print(f"raw steps/s: unity {unity_raw:.0f}, cartpole {cartpole_raw:.0f}", flush=True)

    unity_base = job_tree(
        work / "unity" / "ml",
        {
            "rl.training.config.env_config.env_name": "Basic",
            "rl.training.config.env_config.base_port": free_port(),
            "rl.training.stop.time_total_s": args.budget_s,
        },
    )
    make_player(unity_base / "input" / "data" / "train" / "Basic_linux", "Basic")
    unity_wall, unity_rows = run_training(unity_base, "unity-basic-ppo")
    reached = next((r for r in unity_rows if r.get("episode_reward_mean", -1e9) >= 0.9), None)
    print(f"unity PPO: {len(unity_rows)} iterations, reached 0.9: {reached is not None}", flush=True)

    cartpole_base = job_tree(
        work / "cartpole" / "ml",
        {
            **PPO_SETTINGS,
            "rl.training.stop.training_iteration": len(unity_rows),
            "rl.training.stop.episode_reward_mean": 1e9,
        },
    )
    cartpole_wall, cartpole_rows = run_training(cartpole_base, "cartpole-ppo")

    best = max(r.get("episode_reward_mean", float("-inf")) for r in unity_rows)
    lines = [
        "# Unity ML-Agents path: PPO on the stand-in Basic game",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}: {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}; load average "
        f"{os.getloadavg()[0]:.1f} at the end"
        + (" (the cores were shared with other work, so the rates are noisy)." if os.getloadavg()[0] > 2.5 else "."),
        "",
        "Command: `python bench/unity_basic.py` (the player is the stand-in tests/unity_player/standin_player.py, "
        "launched by mlagents_envs' UnityEnvironment as a Linux build; a real Unity player cannot run here).",
        "",
        "| measure | Unity path (stand-in Basic) | CartPole-v1 |",
        "| --- | --- | --- |",
        f"| raw env steps/s, 1 env, random actions | {unity_raw:,.0f} | {cartpole_raw:,.0f} |",
        f"| PPO training throughput (sampled steps / s of training) | {throughput(unity_rows):,.0f} "
        f"| {throughput(cartpole_rows):,.0f} |",
        f"| PPO iterations (1000 steps each) | {len(unity_rows)} | {len(cartpole_rows)} |",
        f"| wall time of the `rlrt train` process (s) | {unity_wall:.0f} | {cartpole_wall:.0f} |",
        "",
        "PPO settings: presets/unity-basic-ppo.yaml (1 env runner x 2 environments, 1000-step batches, 10 epochs, "
        "minibatch 128, lr 1e-3, [32, 32] networks); CartPole ran the same settings for the same number of iterations.",
        "",
        "Learning the Basic game (pass bar: episode_reward_mean >= 0.9 within 200 s of training):",
        "",
        (
            f"- reached episode_reward_mean {reached['episode_reward_mean']:.3f} after "
            f"{reached['time_total_s']:.1f} s of training ({int(reached['timesteps_total'])} steps, "
            f"iteration {int(reached['training_iteration'])}); "
            f"**{'PASS' if reached['time_total_s'] < 200 else 'FAIL'}**"
            if reached
            else f"- did NOT reach 0.9 within {args.budget_s:.0f} s (best {best:.3f}); **FAIL**"
        ),
        "",
        "| iteration | steps | time_total_s | episode_reward_mean |",
        "| --- | --- | --- | --- |",
        *[
            f"| {int(r['training_iteration'])} | {int(r['timesteps_total'])} | {r['time_total_s']:.1f} | "
            f"{r.get('episode_reward_mean', float('nan')):.3f} |"
            for r in unity_rows
        ],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if reached and reached["time_total_s"] < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
