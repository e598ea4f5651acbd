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

TINY = [
    "--set",
    "rl.training.config.train_batch_size_per_learner=500",
    "--set",
    "rl.training.config.minibatch_size=250",
    "--set",
    "rl.training.config.num_epochs=1",
    "--set",
    "rl.training.stop.training_iteration=3",
]


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
    run = run_rlrt(
        ["train", "--track", "mlflow", "--base-dir", str(tree), *TINY],
        cwd=tmp_path,
        timeout=200,
        MLFLOW_TRACKING_URI=uri,
    )
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    failure = (tree / "output" / "failure").read_text()
    assert failure.startswith(f"Cannot track this job with MLflow at {uri}: ") and "MLFLOW_TRACKING_URI" in failure
    assert "training_iteration: " not in run.stdout and "Traceback" not in run.stderr


def test_an_unknown_tracker_names_the_known_ones(tmp_path: Path) -> None:
    run = run_rlrt(["train", "--track", "neptune", "--base-dir", str(tmp_path / "job")], cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "track" in run.stderr, run.stderr[-2000:]
    assert "one of mlflow, wandb" in run.stderr, run.stderr[-2000:]


def wandb_records(run_file: Path) -> list[object]:
    """The records of an offline W&B run, read with W&B's own reader of its ``.wandb`` log (``wandb sync`` reads
    it the same way; pinned by the lock's wandb)."""
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal import datastore

    store = datastore.DataStore()
    store.open_for_scan(str(run_file))
    records = []
    while (data := store.scan_data()) is not None:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        records.append(record)
    return records


@pytest.mark.slow
def test_an_offline_wandb_run_holds_the_settings_metrics_and_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)  # W&B's defaults: offline, no account
    tree = tmp_path / "rlrt-jobs" / "cartpole-ppo-s4"
    run = run_rlrt(["train", "--track", "wandb", "--seed", "4", "--base-dir", str(tree), *TINY], cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    [files] = (tmp_path / "rlrt-jobs" / "wandb").glob("offline-run-*")  # beside the tree, offline: no account
    assert "rlrt: tracking with W&B (offline): run 'cartpole-ppo-s4'" in run.stdout
    assert f"upload it with: wandb sync {files}" in run.stdout
    assert unexpected_lines(output) == [] and "wandb:" not in output

    [log] = files.glob("run-*.wandb")
    records = wandb_records(log)
    kinds = [r.WhichOneof("record_type") for r in records]  # type: ignore[attr-defined]
    [header] = [r for r in records if r.WhichOneof("record_type") == "run"]  # type: ignore[attr-defined]
    assert header.run.display_name == "cartpole-ppo-s4" and header.run.project == "rlrt"
    config = {item.key: json.loads(item.value_json) for item in header.run.config.update}
    resolved = json.loads((tree / "model" / "config.json").read_text())["config"]
    assert config["seed"] == "4" and config["algorithm"] == "PPO" and config["env"] == "CartPole-v1"
    assert json.loads(config["config.lr"]) == resolved["lr"] and config["stop.training_iteration"] == "3"
    history = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            row = {(item.key or "/".join(item.nested_key)): json.loads(item.value_json) for item in record.history.item}
            history.append(row)
    with (tree / "output" / "intermediate" / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and [h["_step"] for h in history] == [int(r["timesteps_total"]) for r in rows]
    assert [h["episode_reward_mean"] for h in history] == pytest.approx([float(r["episode_reward_mean"]) for r in rows])
    [artifact] = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert artifact.type == "model" and artifact.name == "cartpole-ppo-s4-model"
    stored = {entry.path for entry in artifact.manifest.contents}
    assert {"metadata.json", "policy.onnx"} <= stored and any(p.startswith("checkpoint/") for p in stored)
    [end] = [r.exit for r in records if r.WhichOneof("record_type") == "exit"]
    assert end.exit_code == 0 and kinds.count("exit") == 1


def test_a_wandb_folder_that_cannot_be_written_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    tree = tmp_path / "job"
    run = run_rlrt(
        ["train", "--track", "wandb", "--base-dir", str(tree), *TINY],
        cwd=tmp_path,
        timeout=200,
        WANDB_DIR="/proc/rlrt-no-such-folder",
    )
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    failure = (tree / "output" / "failure").read_text()
    assert failure.startswith("Cannot track this job with W&B (mode offline, folder /proc/rlrt-no-such-folder): ")
    assert "WANDB_DIR" in failure and "training_iteration: " not in run.stdout and "Traceback" not in run.stderr
