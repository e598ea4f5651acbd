"""runtime/train/tracking.py's pure parts: the settings as MLflow parameters and where the default store is."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.train.tracking import MAX_PARAM, default_store, settings_as_params


def test_settings_become_strings_and_a_long_one_is_cut_with_a_mark() -> None:
    params = settings_as_params("cartpole-ppo", "PPO", "CartPole-v1", 3,
                                {"lr": 0.001, "model_config": {"fcnet_hiddens": [64, 64]}, "long": "x" * 7000},
                                {"timesteps_total": 50000})
    assert params["preset"] == "cartpole-ppo" and params["seed"] == "3" and params["config.lr"] == "0.001"
    assert json.loads(params["config.model_config"]) == {"fcnet_hiddens": [64, 64]}
    assert params["stop.timesteps_total"] == "50000"
    assert len(params["config.long"]) == MAX_PARAM and params["config.long"].endswith("...")
    assert settings_as_params("p", "BCQ", None, None, {}, {})["env"] == ""


def test_the_default_store_is_beside_a_local_tree_and_in_a_containers_output() -> None:
    assert default_store(Path("/home/you/rlrt-jobs/cartpole-ppo-s3"), container=False) == Path(
        "/home/you/rlrt-jobs/mlflow.db")
    assert default_store(Path("/opt/ml"), container=True) == Path("/opt/ml/output/intermediate/mlflow/mlflow.db")
