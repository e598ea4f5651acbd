"""DeepRacer on the runtime: hyperparameter mapping, a short training job through `rlrt train`, its output files'
schemas and metric lines, clear failures for a user's bad files, and evaluation / head-to-head outputs."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from conftest import JobTree, run_rlrt
from tests.quiet_logs import unexpected_lines
from tests.unit.test_deepracer_runtime import LABELS, METADATA, REGEXES, SIMTRACE, deepracer_tree


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[JobTree, str]:
    tree = deepracer_tree(tmp_path_factory.mktemp("train") / "opt" / "ml")
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert unexpected_lines(result.stdout + result.stderr) == []  # the family's own warnings read as rlrt lines
    return tree, result.stdout


def test_training_prints_coach_lines_the_notebook_scrapes(trained: tuple[JobTree, str]) -> None:
    _, stdout = trained
    lines = stdout.splitlines()
    for name, regex in REGEXES.items():
        values = [re.match(regex, line).group(1) for line in lines if re.match(regex, line)]
        assert values and all(float(v) == float(v) for v in values), name
    training = [line for line in lines if line.startswith("Training>")]
    assert re.fullmatch(
        r"Training> Name=main_level/agent, Worker=0, Episode=1, Total reward=-?[0-9.]+, Steps=\d+, "
        r"Training iteration=1",
        training[0],
    )
    assert "episode_reward_mean: " in stdout and "rlrt: DeepRacer track 'oval_cw'" in stdout


def test_training_outputs_have_deepracer_schemas(trained: tuple[JobTree, str]) -> None:
    tree, stdout = trained
    metrics = json.loads((tree.intermediate / "training_metrics.json").read_text())
    assert metrics["version"] == 2.0 and metrics["best_model_metric"] == "progress"
    entries = metrics["metrics"]
    keys = {
        "reward_score",
        "metric_time",
        "start_time",
        "elapsed_time_in_milliseconds",
        "episode",
        "trial",
        "phase",
        "completion_percentage",
        "episode_status",
    }
    assert entries and all(set(e) == keys for e in entries)
    assert {e["phase"] for e in entries} == {"training", "evaluation"}
    assert all(
        isinstance(e["elapsed_time_in_milliseconds"], int)
        and isinstance(e["completion_percentage"], int)
        and e["episode_status"] in LABELS
        for e in entries
    )
    train_eps = [e["episode"] for e in entries if e["phase"] == "training"]
    assert train_eps == list(range(1, len(train_eps) + 1))
    assert len([line for line in stdout.splitlines() if line.startswith("Training>")]) == len(train_eps)
    with (tree.intermediate / "iteration-data/training/training-simtrace/0-iteration.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == SIMTRACE and len(rows) > 50
    assert {r[15] for r in rows[1:]} <= {
        "in_progress",
        "lap_complete",
        "off_track",
        "crashed",
        "reversed",
        "immobilized",
        "time_up",
    }
    assert rows[1][0] == "0" and rows[1][1] == "1" and float(rows[1][13]) == pytest.approx(27.7, abs=0.1)
    for name in (
        "checkpoint",
        "metadata.json",
        "config.json",
        "model_metadata.json",
        "reward_function.py",
        "training_metrics.json",
    ):
        assert (tree.model / name).exists(), name
    config = json.loads((tree.model / "config.json").read_text())
    assert config["config"]["minibatch_size"] == 64 and config["config"]["train_batch_size_per_learner"] == 300
    assert config["config"]["model_config"]["fcnet_hiddens"] == [64, 64]
    assert config["env_config"]["world_name"] == "oval_cw"


def test_evaluation_writes_evaluation_metrics(trained: tuple[JobTree, str], tmp_path: Path) -> None:
    tree, _ = trained
    base = tmp_path / "eval"
    result = run_rlrt(
        [
            "deepracer-evaluate",
            "--base-dir",
            str(base),
            "--model",
            str(tree.model),
            "--set",
            "NUMBER_OF_TRIALS=2",
            "--set",
            "RACE_TYPE=OBJECT_AVOIDANCE",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    entries = json.loads((base / "output/intermediate/evaluation_metrics.json").read_text())["metrics"]
    assert [e["trial"] for e in entries] == [1, 2]
    for e in entries:
        assert {
            "crash_count",
            "immobilized_count",
            "off_track_count",
            "reversed_count",
            "reset_count",
            "trial",
            "completion_percentage",
            "elapsed_time_in_milliseconds",
            "episode_status",
        } <= set(e)
        assert e["episode_status"] in LABELS and 0 <= e["completion_percentage"] <= 100
    assert len(re.findall(r"^Testing>.*Total reward=(.*?),", result.stdout, re.M)) == 2
    with (base / "output/intermediate/iteration-data/evaluation/evaluation-simtrace/0-iteration.csv").open() as handle:
        assert next(csv.reader(handle)) == SIMTRACE


def test_head_to_head_races_two_models(trained: tuple[JobTree, str], tmp_path: Path) -> None:
    tree, _ = trained
    base = tmp_path / "h2h"
    result = run_rlrt(
        [
            "deepracer-evaluate",
            "--base-dir",
            str(base),
            "--model",
            str(tree.model),
            "--opponent",
            str(tree.model),
            "--trials",
            "1",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first = json.loads((base / "output/intermediate/evaluation_metrics.json").read_text())["metrics"]
    second = json.loads((base / "output/intermediate/evaluation_metrics_2.json").read_text())["metrics"]
    assert len(first) == len(second) == 1 and "model 1" in result.stdout and "model 2" in result.stdout


def test_the_general_evaluate_command_races_deepracer_models(trained: tuple[JobTree, str], tmp_path: Path) -> None:
    tree, _ = trained
    base = tmp_path / "general"
    result = run_rlrt(["evaluate", "--base-dir", str(base), "--model", str(tree.model), "--set", "evaluate_episodes=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    entries = json.loads((base / "output/intermediate/evaluation_metrics.json").read_text())["metrics"]
    assert [e["trial"] for e in entries] == [1]


def test_evaluating_a_folder_that_is_no_model_fails_clearly(tmp_path: Path) -> None:
    base = tmp_path / "bad"
    result = run_rlrt(["deepracer-evaluate", "--base-dir", str(base), "--model", str(tmp_path)])
    assert result.returncode == 2
    assert "is not a trained rlrt DeepRacer model" in (base / "output/failure").read_text()


def test_bad_reward_function_fails_the_job_before_training(tmp_path: Path) -> None:
    tree = deepracer_tree(tmp_path / "opt" / "ml", reward="def reward_function(params):\n    return params['speedd']\n")
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 2, result.stderr[-2000:]
    failure = tree.failure.read_text()
    assert re.search(
        r"reward_function raised KeyError: 'speedd'.*at step 1, with params "
        r"\{\"all_wheels_on_track\"",
        failure,
    )
    assert "Traceback" not in result.stderr and not tree.model.joinpath("checkpoint").exists()


@pytest.mark.slow
def test_reward_error_in_a_simulation_worker_is_reported_with_its_params(tmp_path: Path) -> None:
    reward = (
        "def reward_function(params):\n"
        "    if params['steps'] == 40:\n"
        "        raise ValueError('step forty')\n"
        "    return 1.0\n"
    )
    tree = deepracer_tree(tmp_path / "opt" / "ml", {"num_simulation_workers": "1"}, reward)
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    failure = tree.failure.read_text()
    assert "reward_function raised ValueError: step forty" in failure and '"steps": 40' in failure


@pytest.mark.slow
@pytest.mark.parametrize(
    "metadata, expect",
    [
        ({**METADATA, "sensor": ["FRONT_FACING_CAMERA"]}, {"conv_filters": [[32, 8, 4], [64, 4, 2], [64, 3, 1]]}),
        (
            {
                "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1.5}},
                "action_space_type": "continuous",
                "sensor": ["FRONT_FACING_CAMERA", "LIDAR"],
                "neural_network": "DEEP_CONVOLUTIONAL_NETWORK",
                "training_algorithm": "clipped_ppo",
            },
            {"fcnet_hiddens": [128, 128]},
        ),
    ],
    ids=["camera-discrete", "camera+lidar-continuous"],
)
def test_camera_and_continuous_models_train_and_evaluate(tmp_path: Path, metadata: dict, expect: dict) -> None:
    tree = deepracer_tree(
        tmp_path / "opt" / "ml",
        {"num_episodes_between_training": "1", "batch_size": "32", "evaluation_interval": "0"},
        metadata=metadata,
    )
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    model_config = json.loads((tree.model / "config.json").read_text())["config"]["model_config"]
    assert all(model_config[k] == v for k, v in expect.items())
    assert "no serving exports" not in result.stderr and "videos are off" not in result.stderr
    assert_camera_model_served_like_its_checkpoint(tree.model)
    base = tmp_path / "eval"
    result = run_rlrt(["deepracer-evaluate", "--base-dir", str(base), "--model", str(tree.model), "--trials", "1"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(json.loads((base / "output/intermediate/evaluation_metrics.json").read_text())["metrics"]) == 1


def assert_camera_model_served_like_its_checkpoint(model: Path) -> None:
    """A camera model exports: the ONNX policy takes each image flat (``[batch, H*W*C]``) and acts as the
    checkpoint's RLModule does on the image (camera + LIDAR: RLlib's flattened Dict)."""
    import numpy as np
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    from runtime.serving.model_store import OnnxPolicy

    module = RLModule.from_checkpoint(
        str(model.joinpath("checkpoint", "learner_group", "learner", "rl_module", "default_policy"))
    )
    shape = module.observation_space.shape
    images = np.random.default_rng(0).uniform(0, 1, (4, *shape)).astype(np.float32)
    served = OnnxPolicy(model).predict(images.reshape(4, -1))["actions"]
    with torch.no_grad():
        inputs = module.forward_inference({"obs": torch.as_tensor(images)})["action_dist_inputs"].numpy()
    space = module.action_space
    if hasattr(space, "n"):
        assert served.tolist() == inputs.argmax(axis=1).tolist()
    else:
        mean = inputs[:, : space.shape[0]]
        expected = np.clip(space.low + (mean + 1.0) * (space.high - space.low) / 2.0, space.low, space.high)
        np.testing.assert_allclose(served, expected, atol=1e-4)
