"""runtime/train/tracking.py: the settings as parameters, where the default stores are, and an MLflow or W&B run
whose write fails mid-job (each library's own store in a temporary folder: MLflow's SQLite, W&B's offline run)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.train.tracking import (
    MAX_PARAM,
    MLflowTracker,
    WandbTracker,
    default_store,
    default_wandb_dir,
    settings_as_params,
)


def test_settings_become_strings_and_a_long_one_is_cut_with_a_mark() -> None:
    params = settings_as_params(
        "cartpole-ppo",
        "PPO",
        "CartPole-v1",
        3,
        {"lr": 0.001, "model_config": {"fcnet_hiddens": [64, 64]}, "long": "x" * 7000},
        {"timesteps_total": 50000},
    )
    assert params["preset"] == "cartpole-ppo" and params["seed"] == "3" and params["config.lr"] == "0.001"
    assert json.loads(params["config.model_config"]) == {"fcnet_hiddens": [64, 64]}
    assert params["stop.timesteps_total"] == "50000"
    assert len(params["config.long"]) == MAX_PARAM and params["config.long"].endswith("...")
    assert settings_as_params("p", "BCQ", None, None, {}, {})["env"] == ""


def test_the_default_store_is_beside_a_local_tree_and_in_a_containers_output() -> None:
    assert default_store(Path("/home/you/rlrt-jobs/cartpole-ppo-s3"), container=False) == Path(
        "/home/you/rlrt-jobs/mlflow.db"
    )
    assert default_store(Path("/opt/ml"), container=True) == Path("/opt/ml/output/intermediate/mlflow/mlflow.db")

    assert default_wandb_dir(Path("/home/you/rlrt-jobs/cartpole-ppo-s3"), container=False) == Path(
        "/home/you/rlrt-jobs"
    )
    assert default_wandb_dir(Path("/opt/ml"), container=True) == Path("/opt/ml/output/intermediate")


def test_a_wandb_write_that_fails_stops_the_tracking_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    tracker = WandbTracker("t", {"lr": "0.1"}, {"rlrt.tree": str(tmp_path)}, tmp_path, out)
    tracker.log({"episode_reward_mean": 1.0}, 10)
    tracker.run.finish()  # the run ends behind the tracker's back: W&B refuses the next write
    tracker.log({"episode_reward_mean": 2.0}, 20)
    tracker.log({"episode_reward_mean": 3.0}, 30)
    tracker.end(tmp_path, "FINISHED")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("rlrt: tracking with W&B (offline): run 't' (") and len(lines) == 2
    assert lines[1].startswith("rlrt: warning: W&B could not log the iteration's metrics (UsageError: ")
    assert lines[1].endswith("tracking stops here (progress.csv and TensorBoard have every number)")
    assert list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))


def test_a_wandb_mode_wandb_refuses_is_named_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "ofline")
    with pytest.raises(UserError, match=r"^WANDB_MODE=ofline is not a W&B mode: set it to one of offline, online, "):
        WandbTracker("t", {}, {}, tmp_path, io.StringIO())


def test_an_mlflow_write_that_fails_stops_the_tracking_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = io.StringIO()
    tracker = MLflowTracker("t", {"lr": "0.1"}, {"rlrt.tree": str(tmp_path)}, tmp_path / "mlflow.db", out)
    tracker.log({"episode_reward_mean": 1.0}, 10)
    assert tracker.run_id is not None
    tracker.client.delete_run(tracker.run_id)  # the run goes behind the tracker's back: MLflow refuses the next write
    tracker.log({"episode_reward_mean": 2.0}, 20)
    tracker.log({"episode_reward_mean": 3.0}, 30)
    tracker.end(tmp_path, "FINISHED")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("rlrt: tracking with MLflow: run 't' (") and len(lines) == 2, lines
    assert lines[1].startswith("rlrt: warning: MLflow could not log the iteration's metrics (MlflowException: ")
    assert lines[1].endswith("tracking stops here (progress.csv and TensorBoard have every number)")
