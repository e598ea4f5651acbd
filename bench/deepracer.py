"""DeepRacer benchmark: environment speed (camera vs the ``observation`` sensor) and lap completion after training.

    python bench/deepracer.py speed                        # steps/s per sensor, camera frames/s on one core
    python bench/deepracer.py train --minutes 30 --base-dir /tmp/bench-deepracer
    python bench/deepracer.py evaluate --base-dir /tmp/bench-deepracer --trials 10

Training uses the deepracer-ppo preset on the generated oval with the documentation's "follow the centre line"
reward and DeepRacer's default 5-action space (steering -30, -15, 0, 15, 30 at 0.6 m/s), the ``observation`` sensor,
one simulation worker (Ray env runner) and SM_NUM_CPUS=2 (``--sensor FRONT_FACING_CAMERA`` trains on the camera:
DeepRacer's default model_metadata).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The user's reward file: the documentation's "follow the centre line" example, which the environment package ships.
FOLLOW_CENTER_LINE = """from envs.deepracer.reward import follow_center_line as reward_function  # noqa: F401
"""
DEFAULT_ACTIONS = [{"steering_angle": a, "speed": 0.6} for a in (-30, -15, 0, 15, 30)]


def speed(seconds: float = 5.0) -> dict:
    """Random-action env steps/s for each sensor (TIME_TRIAL on the oval) and raw camera frames/s."""
    from envs.deepracer.camera import Camera
    from envs.deepracer.env import DeepRacerEnv
    from envs.deepracer.tracks import load_track

    results = {}
    for sensors in (["observation"], ["FRONT_FACING_CAMERA"], ["STEREO_CAMERAS"], ["LIDAR"]):
        env = DeepRacerEnv(
            {"model_metadata": {"sensor": sensors, "action_space": DEFAULT_ACTIONS}, "world_name": "oval"}
        )
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        steps, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            _, _, term, trunc, _ = env.step(int(rng.integers(0, 5)) if rng.random() < 0.3 else 2)
            steps += 1
            if term or trunc:
                env.reset()
        name = "+".join(sensors)
        results[name] = steps / (time.perf_counter() - start)
        results[name + " per CPU-second"] = steps / (time.process_time() - cpu)
    track = load_track("oval")
    camera = Camera(track)
    point, heading = track.point_at(3.0)
    frames, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        camera.render(float(point[0]) + frames * 1e-5, float(point[1]), float(heading))
        frames += 1
    results["camera_frames_per_s"] = frames / (time.perf_counter() - start)
    results["camera_frames_per_cpu_second"] = frames / (time.process_time() - cpu)
    return results


def make_tree(base: Path, minutes: float, workers: int, sensor: str = "observation") -> None:
    config = base / "input" / "config"
    train = base / "input" / "data" / "train"
    config.mkdir(parents=True, exist_ok=True)
    train.mkdir(parents=True, exist_ok=True)
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    (config / "inputdataconfig.json").write_text(json.dumps({"train": {"TrainingInputMode": "File"}}))
    hyperparameters = {
        "preset": "deepracer-ppo",
        "num_simulation_workers": str(workers),
        "rl.training.stop.time_total_s": minutes * 60,
        "WORLD_NAME": "oval",
    }
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
    (train / "reward_function.py").write_text(FOLLOW_CENTER_LINE)
    (train / "model_metadata.json").write_text(
        json.dumps(
            {
                "action_space": DEFAULT_ACTIONS,
                "sensor": [sensor],
                "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                "training_algorithm": "clipped_ppo",
                "action_space_type": "discrete",
                "version": "5",
            }
        )
    )


def train(base: Path, minutes: float, workers: int, sensor: str = "observation") -> int:
    make_tree(base, minutes, workers, sensor)
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base),
        "SM_NUM_CPUS": "2",
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": str(ROOT),
    }
    with open(base / "train.log", "w") as log:
        return subprocess.call(
            [sys.executable, "-m", "runtime.cli", "train"], cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT
        )


def evaluate(base: Path, trials: int) -> dict:
    from runtime.families.deepracer.evaluation import evaluate_model

    entries = evaluate_model(base / "model", trials=trials, settings={"world_name": "oval"})
    completion = [e["completion_percentage"] for e in entries]
    return {
        "trials": trials,
        "mean_completion_percentage": float(np.mean(completion)),
        "completion": completion,
        "statuses": [e["episode_status"] for e in entries],
        "lap_times_s": [e["elapsed_time_in_milliseconds"] / 1000 for e in entries],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("speed", "train", "evaluate"))
    parser.add_argument("--base-dir", type=Path, default=Path("/tmp/bench-deepracer"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument(
        "--sensor",
        default="observation",
        choices=("observation", "FRONT_FACING_CAMERA"),
        help="the model_metadata.json sensor to train with",
    )
    args = parser.parse_args()
    if args.stage == "speed":
        print(json.dumps(speed(), indent=2))
    elif args.stage == "train":
        return train(args.base_dir.resolve(), args.minutes, args.workers, args.sensor)
    else:
        print(json.dumps(evaluate(args.base_dir.resolve(), args.trials), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
