"""``rlrt train --track mlflow``: the job's settings, every iteration's metrics and the model folder in an MLflow run,
read back with MLflow's own client and compared with the job's progress.csv and config.json; a store that cannot
be opened fails the job before training, naming it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import run_rlrt
from tests.quiet_logs import unexpected_lines

TINY = ["--set", "rl.training.config.train_batch_size_per_learner=500",
        "--set", "rl.training.config.minibatch_size=250", "--set", "rl.training.config.num_epochs=1",
        "--set", "rl.training.stop.training_iteration=3"]


@pytest.mark.slow
def test_an_mlflow_run_holds_the_settings_metrics_and_model(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    tree = tmp_path / "rlrt-jobs" / "cartpole-ppo-s3"
    run = run_rlrt(["train", "--track", "mlflow", "--seed", "3", "--base-dir", str(tree), *TINY], cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    store = tmp_path / "rlrt-jobs" / "mlflow.db"  # beside the tree: the runs started there, compared in one UI
    assert "rlrt: tracking with MLflow: run 'cartpole-ppo-s3'" in run.stdout and f"sqlite:///{store}" in run.stdout
    assert unexpected_lines(output) == []

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    [found] = client.search_runs([client.get_experiment_by_name("rlrt").experiment_id])
    assert found.info.run_name == "cartpole-ppo-s3" and found.info.status == "FINISHED"
    config = json.loads((tree / "model" / "config.json").read_text())["config"]  # the settings the job resolved
    params = found.data.params
    assert params["seed"] == "3" and params["algorithm"] == "PPO" and params["env"] == "CartPole-v1"
    assert json.loads(params["config.lr"]) == config["lr"] and params["config.num_epochs"] == "1"
    assert params["stop.training_iteration"] == "3"
    assert found.data.tags["rlrt.tree"] == str(tree)
    with (tree / "output" / "intermediate" / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    history = client.get_metric_history(found.info.run_id, "episode_reward_mean")
    assert [m.step for m in history] == [int(r["timesteps_total"]) for r in rows] and len(rows) == 3
    assert [m.value for m in history] == pytest.approx([float(r["episode_reward_mean"]) for r in rows])
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id, "model")}
    assert {"model/metadata.json", "model/policy.onnx", "model/checkpoint"} <= artifacts


def test_a_store_that_cannot_be_opened_fails_before_training(tmp_path: Path) -> None:
    uri = "sqlite:////proc/rlrt-no-such-folder/mlflow.db"
    tree = tmp_path / "job"
    run = run_rlrt(["train", "--track", "mlflow", "--base-dir", str(tree), *TINY], cwd=tmp_path, timeout=200,
                   MLFLOW_TRACKING_URI=uri)
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    failure = (tree / "output" / "failure").read_text()
    assert failure.startswith(f"Cannot track this job with MLflow at {uri}: ") and "MLFLOW_TRACKING_URI" in failure
    assert "training_iteration: " not in run.stdout and "Traceback" not in run.stderr


def test_an_unknown_tracker_names_the_known_one(tmp_path: Path) -> None:
    run = run_rlrt(["train", "--track", "wandb", "--base-dir", str(tmp_path / "job")], cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "track" in run.stderr and "mlflow" in run.stderr, run.stderr[-2000:]
