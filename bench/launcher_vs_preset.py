"""A SageMaker RL launcher script job against a preset job of the same environment.

Both train CartPole-v1 with PPO for one iteration with the same settings (the launcher's experiment carries the
cartpole-ppo preset's algorithm configuration: RLlib's defaults would do three times the learner's work per iteration),
through the image's own path: the preset job
as `python entrypoints/container.py train` on `preset: cartpole-ppo`, the launcher job as script mode runs it
(`sagemaker_program` + `sagemaker_submit_directory` = a local `sourcedir.tar.gz` holding a
`SageMakerRayLauncher` subclass that registers the environment with `register_env`). Alternated, `--rounds` times;
prints each process's wall time (start to exit) and the median ratio launcher / preset (goal: <= 1.05, "no slower").

    python bench/launcher_vs_preset.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import tarfile
from pathlib import Path

import yaml
from common import OUT, REPO, machine, python, record, rlrt_env, stream_process, write_tree

LAUNCHER = """
import json

import gymnasium as gym
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


class CartPoleLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("MyCartPole-v1", lambda config: gym.make("CartPole-v1"))

    def get_experiment_config(self):
        return {"training": {"env": "MyCartPole-v1", "run": "PPO", "stop": {"training_iteration": 1},
                             "config": {**json.loads(CONFIG), "num_workers": 1}}}


if __name__ == "__main__":
    CartPoleLauncher().train_main()
"""

SETTINGS = {
    "rl.training.stop.training_iteration": 1,
    "rl.training.config.train_batch_size": 2000,
    "rl.training.config.num_env_runners": 1,
    "record_video_every": 0,
}


def job(base: Path, hyperparameters: dict) -> float:
    """One container `train` process in a fresh tree: its wall seconds."""
    shutil.rmtree(base, ignore_errors=True)
    host = socket.gethostname()
    write_tree(base, hyperparameters)
    (base / "input" / "config" / "resourceconfig.json").write_text(f'{{"current_host": "{host}", "hosts": ["{host}"]}}')
    env = rlrt_env(base)
    env["PATH"] = f"{Path(python()).parent}:{env['PATH']}"
    code, wall, _ = stream_process(
        [python(), str(REPO / "entrypoints" / "container.py"), "train"], env, base.with_suffix(".log")
    )
    assert code == 0, base.with_suffix(".log").read_text()[-3000:]
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"machine: {machine()}; load average at the start: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True
    )
    root = OUT / "launcher"
    source = root / "src"
    source.mkdir(parents=True, exist_ok=True)
    preset_config = yaml.safe_load((REPO / "presets" / "cartpole-ppo.yaml").read_text())["config"]
    (source / "train.py").write_text(
        LAUNCHER.replace("json.loads(CONFIG)", f"json.loads({json.dumps(json.dumps(preset_config))})")
    )
    archive = root / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "train.py", arcname="train.py")
    launcher = {**SETTINGS, "sagemaker_program": "train.py", "sagemaker_submit_directory": str(archive)}
    preset = {**SETTINGS, "preset": "cartpole-ppo"}
    ratios, launcher_walls, preset_walls = [], [], []
    for round_ in range(args.rounds):
        preset_wall = job(root / "preset", preset)
        launcher_wall = job(root / "launcher", launcher)
        preset_walls.append(preset_wall)
        launcher_walls.append(launcher_wall)
        ratios.append(launcher_wall / preset_wall)
        print(
            f"round {round_}: preset job {preset_wall:.2f} s, launcher job {launcher_wall:.2f} s, ratio "
            f"{ratios[-1]:.3f}",
            flush=True,
        )
    print(
        f"median: preset {statistics.median(preset_walls):.2f} s, "
        f"launcher {statistics.median(launcher_walls):.2f} s, "
        f"ratio {statistics.median(ratios):.3f} (goal <= 1.05)"
    )
    print(f"load average at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    record(
        "launcher-vs-preset",
        f"{statistics.median(ratios):.3f} (preset {statistics.median(preset_walls):.2f} s, "
        f"launcher {statistics.median(launcher_walls):.2f} s)",
        figure="launcher job / preset job, wall s",
        goal="<= 1.05",
        write_up="history.md",
    )


if __name__ == "__main__":
    main()
