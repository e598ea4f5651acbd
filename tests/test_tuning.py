"""`rlrt tune` (SageMaker HyperparameterTuner's grammar on Ray Tune), and the container under SageMaker's own tuner."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
import yaml

from runtime.errors import UserError
from runtime.tuning import ParameterRange, parse_tuning_spec
from tests.conftest import make_job_tree, run_rlrt

RAY_REGEX = r"episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)"  # RLEstimator's metric definition
TINY_JOB = {
    "rl.training.stop.training_iteration": 2,
    "rl.training.config.train_batch_size": 200,
    "rl.training.config.sgd_minibatch_size": 100,
    "rl.training.config.num_envs_per_worker": 1,
    "rl.training.config.num_workers": 0,
}


def _spec(**overrides: object) -> dict:
    base = {"max_jobs": 2, "hyperparameter_ranges": {"rl.training.config.lr": {"type": "Continuous", "min_value": 0.001,
                                                                                "max_value": 0.01}}}
    return {**base, **overrides}


def test_the_sdk_and_api_range_shapes_parse_to_the_same_ranges() -> None:
    sdk = parse_tuning_spec(_spec(hyperparameter_ranges={
        "rl.training.config.kl_coeff": {"type": "ContinuousParameter", "min_value": 0.5, "max_value": 1.0},
        "rl.training.config.num_sgd_iter": {"type": "Integer", "min_value": "3", "max_value": 50,
                                            "scaling_type": "Linear"},
        "rl.training.config.vf_share_layers": {"type": "Categorical", "values": ["true", "false"]},
    }))
    api = parse_tuning_spec({"max_jobs": 2, "ParameterRanges": {
        "ContinuousParameterRanges": [{"Name": "rl.training.config.kl_coeff", "MinValue": "0.5", "MaxValue": "1.0"}],
        "IntegerParameterRanges": [{"Name": "rl.training.config.num_sgd_iter", "MinValue": "3", "MaxValue": "50",
                                    "ScalingType": "Linear"}],
        "CategoricalParameterRanges": [{"Name": "rl.training.config.vf_share_layers", "Values": ["true", "false"]}],
    }})
    assert sdk.ranges == api.ranges
    assert sdk.mode == "max" and sdk.max_parallel_jobs == 1 and sdk.strategy == "Bayesian"
    assert parse_tuning_spec(_spec(objective_type="Minimize")).mode == "min"


@pytest.mark.parametrize(
    ("scaling", "low", "high"),
    [("Linear", 0.0, 1.0), ("Logarithmic", 1e-5, 1e-1), ("ReverseLogarithmic", 0.9, 0.9999), ("Auto", 1e-5, 1e-1)],
)
def test_samples_respect_bounds_and_scaling(scaling: str, low: float, high: float) -> None:
    r = ParameterRange("x", "Continuous", low, high, scaling)
    values = [r.value_from_sample(r.tune_domain().sample()) for _ in range(4000)]
    assert all(low <= v <= high for v in values)
    middle = (low + high) / 2
    below = sum(v < middle for v in values) / len(values)
    # The share of samples below the middle of the range, computed from each scaling's definition.
    if scaling == "Linear":
        expected = 0.5
    elif scaling in ("Logarithmic", "Auto"):  # log-uniform: P(v < m) = log(m / low) / log(high / low)
        expected = math.log(middle / low) / math.log(high / low)
    else:  # v = 1 - u, u log-uniform on [1 - high, 1 - low]: P(v < m) = P(u > 1 - m)
        expected = math.log((1 - low) / (1 - middle)) / math.log((1 - low) / (1 - high))
    assert abs(below - expected) < 0.03, (below, expected)


def test_integer_ranges_are_inclusive_and_integral() -> None:
    r = ParameterRange("n", "Integer", 3, 5, "Linear")
    values = {r.value_from_sample(r.tune_domain().sample()) for _ in range(300)}
    assert values == {3, 4, 5}
    assert ParameterRange("n", "Integer", 1, 1000, "Auto").effective_scaling() == "Logarithmic"
    assert ParameterRange("n", "Integer", 1, 50, "Auto").effective_scaling() == "Linear"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_spec(max_job=3), "Unknown tuning setting.*'max_job' \\(did you mean 'max_jobs'\\?\\)"),
        (_spec(max_jobs=0), "max_jobs must be an integer >= 1"),
        ({"hyperparameter_ranges": {"a": {"type": "Integer", "min_value": 1, "max_value": 2}}},
         "max_jobs must be an integer >= 1, got None"),
        (_spec(objective_metric_name="loss"), "objective_metric_name must be one of episode_reward_mean"),
        (_spec(objective_type="Maximise"), "objective_type must be Maximize or Minimize"),
        (_spec(strategy="Hyperband"), "strategy must be one of Bayesian, Random, Grid"),
        (_spec(strategy="Grid"), "strategy Grid takes Categorical ranges only; rl.training.config.lr is not"),
        (_spec(strategy="Grid", hyperparameter_ranges={"a": {"type": "Categorical", "values": [1, 2, 3]}}),
         "strategy Grid runs every combination once: 3 jobs, but max_jobs is 2"),
        (_spec(early_stopping_type="On"), "early_stopping_type must be one of Auto, Off"),
        (_spec(hyperparameter_ranges={}), "must name at least one hyperparameter"),
        (_spec(hyperparameter_ranges={"lr": {"type": "Float", "min_value": 0, "max_value": 1}}),
         "hyperparameter_ranges.lr.type must be one of Continuous, Integer, Categorical"),
        (_spec(hyperparameter_ranges={"lr": {"type": "Continuous", "min_value": 0.1, "max_value": 0.1}}),
         "min_value \\(0.1\\) must be less than max_value"),
        (_spec(hyperparameter_ranges={"lr": {"type": "Continuous", "min_value": 0, "max_value": 1,
                                             "scaling_type": "Logarithmic"}}),
         "Logarithmic scaling needs min_value > 0"),
        (_spec(hyperparameter_ranges={"g": {"type": "Continuous", "min_value": 0.5, "max_value": 1.0,
                                            "scaling_type": "ReverseLogarithmic"}}),
         "ReverseLogarithmic scaling needs 0 <= min_value < max_value < 1"),
        (_spec(hyperparameter_ranges={"n": {"type": "Integer", "min_value": 1.5, "max_value": 4}}),
         "an Integer parameter needs integer bounds"),
        (_spec(hyperparameter_ranges={"n": {"type": "Integer", "min_value": 1, "max_value": 4,
                                            "scaling_type": "Exponential"}}), "scaling_type must be one of"),
        (_spec(hyperparameter_ranges={"c": {"type": "Categorical"}}), "values must be a non-empty list"),
        (_spec(hyperparameter_ranges={"c": {"type": "Categorical", "values": [1], "min_value": 0}}),
         "a Categorical parameter takes only 'values'"),
        (_spec(hyperparameter_ranges={"lr": {"type": "Continuous", "min_value": "low", "max_value": 1}}),
         "min_value must be a number, got 'low'"),
        (_spec(static_hyperparameters={"rl.training.config.lr": 0.1}), "both static and tuned"),
    ],
)
def test_bad_tuning_requests_are_user_errors(raw: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_tuning_spec(raw)


def test_a_bad_hyperparameter_name_fails_before_any_trial(tmp_path: Path) -> None:
    file = tmp_path / "tune.yaml"
    file.write_text(yaml.safe_dump(_spec(hyperparameter_ranges={
        "rl.training.config.lrr": {"type": "Continuous", "min_value": 0.001, "max_value": 0.01}})))
    run = run_rlrt(["tune", str(file), "--output", str(tmp_path / "out")])
    assert run.returncode == 2, run.stderr
    failure = (tmp_path / "out" / "output" / "failure").read_text()
    assert "rl.training.config.lrr" in failure and "Did you mean 'rl.training.config.lr'" in failure
    assert not (tmp_path / "out" / "jobs").exists() or not any((tmp_path / "out" / "jobs").iterdir())


def test_a_missing_or_broken_tuning_file_is_a_user_error(tmp_path: Path) -> None:
    run = run_rlrt(["tune", str(tmp_path / "nope.yaml"), "--output", str(tmp_path / "out")])
    assert run.returncode == 2 and "does not exist" in (tmp_path / "out" / "output" / "failure").read_text()
    (tmp_path / "bad.yaml").write_text("max_jobs: [1, 2\n")
    run = run_rlrt(["tune", str(tmp_path / "bad.yaml"), "--output", str(tmp_path / "out")])
    assert run.returncode == 2 and "not valid YAML/JSON" in (tmp_path / "out" / "output" / "failure").read_text()


@pytest.mark.slow
def test_tune_runs_training_jobs_and_reports_the_best(tmp_path: Path) -> None:
    file = tmp_path / "tune.json"
    file.write_text(json.dumps({
        "objective_metric_name": "episode_reward_mean", "objective_type": "Maximize",
        "max_jobs": 2, "max_parallel_jobs": 1, "strategy": "Bayesian", "early_stopping_type": "Auto",
        "static_hyperparameters": TINY_JOB,
        "hyperparameter_ranges": {
            "rl.training.config.lr": {"type": "Continuous", "min_value": 1e-4, "max_value": 1e-2,
                                      "scaling_type": "Logarithmic"},
            "rl.training.config.num_sgd_iter": {"type": "Integer", "min_value": 1, "max_value": 3},
            "rl.training.config.gamma": {"type": "Continuous", "min_value": 0.9, "max_value": 0.999,
                                         "scaling_type": "ReverseLogarithmic"},
        },
    }))
    out = tmp_path / "out"
    run = run_rlrt(["tune", str(file), "--output", str(out)], timeout=500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    rows = list(csv.DictReader((out / "tuning_results.csv").open()))
    assert len(rows) == 2
    for row in rows:
        assert 1e-4 <= float(row["rl.training.config.lr"]) <= 1e-2
        assert row["rl.training.config.num_sgd_iter"] in {"1", "2", "3"}
        assert 0.9 <= float(row["rl.training.config.gamma"]) <= 0.999
        assert row["status"] in {"completed", "early-stopped"} and math.isfinite(float(row["episode_reward_mean"]))
        # Each trial is a real training job in its own tree, with the sampled hyperparameters as SageMaker writes them.
        written = json.loads((Path(row["job_dir"]) / "input" / "config" / "hyperparameters.json").read_text())
        assert json.loads(written["rl.training.config.lr"]) == pytest.approx(float(row["rl.training.config.lr"]))
        assert json.loads(written["rl.training.stop.training_iteration"]) == 2
        assert (Path(row["job_dir"]) / "checkpoints").is_dir()
    best = json.loads((out / "best_hyperparameters.json").read_text())
    assert best["objective_value"] == max(float(r["episode_reward_mean"]) for r in rows)
    assert best["hyperparameters"]["rl.training.config.train_batch_size"] == 200
    assert set(best["tuned_hyperparameters"]) == {"rl.training.config.lr", "rl.training.config.num_sgd_iter",
                                                  "rl.training.config.gamma"}
    assert "rlrt: best trial" in run.stdout
    header = r"^trial +rl.training.config.lr +rl.training.config.num_sgd_iter .*episode_reward_mean"
    assert re.search(header, run.stdout, re.M), run.stdout


def test_a_grid_runs_every_combination_once_and_needs_no_max_jobs() -> None:
    spec = parse_tuning_spec({"strategy": "Grid", "hyperparameter_ranges": {
        "rl.training.config.num_sgd_iter": {"type": "Categorical", "values": ["1", "2", "3"]},
        "rl.training.config.vf_share_layers": {"type": "Categorical", "values": ["true", "false"]}}})
    assert spec.max_jobs == 6 and spec.strategy == "Grid"


@pytest.mark.slow
def test_early_stopping_stops_a_trial_that_falls_behind(tmp_path: Path) -> None:
    """Deterministic ASHA: a grid run one job at a time, the first trial plays full CartPole episodes (return ~20 for
    a new policy), the second has its episodes cut at 5 steps (return <= 5). At the first rung the second trial is
    below every recorded result, so ASHA stops it; its job receives SIGTERM, as SageMaker's tuner stops a job."""
    file = tmp_path / "tune.yaml"
    file.write_text(yaml.safe_dump({
        "objective_metric_name": "episode_reward_mean", "objective_type": "Maximize", "max_parallel_jobs": 1,
        "strategy": "Grid", "early_stopping_type": "Auto",
        "static_hyperparameters": {**TINY_JOB, "rl.training.stop.training_iteration": 3},
        "hyperparameter_ranges": {
            "rl.training.config.env_config.max_episode_steps": {"type": "Categorical", "values": [500, 5]}},
    }))
    out = tmp_path / "out"
    run = run_rlrt(["tune", str(file), "--output", str(out)], timeout=500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    rows = {int(r["rl.training.config.env_config.max_episode_steps"]): r
            for r in csv.DictReader((out / "tuning_results.csv").open())}
    assert set(rows) == {500, 5}
    assert (rows[500]["status"], rows[500]["iterations"]) == ("completed", "3"), rows
    assert (rows[5]["status"], rows[5]["iterations"]) == ("early-stopped", "1"), rows
    assert float(rows[5]["episode_reward_mean"]) <= 5 < float(rows[500]["episode_reward_mean"])
    # The stopped job saved a checkpoint on SIGTERM and exited; nothing of it runs on.
    assert list((Path(rows[5]["job_dir"]) / "checkpoints").glob("checkpoint_*"))
    assert json.loads((out / "best_hyperparameters.json").read_text())["hyperparameters"][
        "rl.training.config.env_config.max_episode_steps"] == 500


def test_under_sagemakers_tuner_the_job_obeys_time_total_s_and_prints_the_objective_every_iteration(
        tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml")
    # What SageMaker's tuner writes: the estimator's static hyperparameters JSON-encoded by the SDK, the sampled
    # values as plain strings, and its own _tuning_objective_metric.
    (tree.base / "input" / "config" / "hyperparameters.json").write_text(json.dumps({
        "rl.training.stop.time_total_s": "6",
        "rl.training.stop.episode_reward_mean": "1000",  # out of CartPole's reach: the clock must end the job
        "rl.training.config.train_batch_size": "200",
        "rl.training.config.sgd_minibatch_size": "100",
        "rl.training.config.num_workers": "0",
        "rl.training.config.num_envs_per_worker": "1",
        "rl.training.config.kl_coeff": "0.7340516",
        "rl.training.config.num_sgd_iter": "2",
        "_tuning_objective_metric": "episode_reward_mean",
        "sagemaker_estimator_class_name": '"RLEstimator"',
    }))
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 0, run.stderr[-3000:]
    iterations = re.findall(r"^training_iteration: (\d+)$", run.stdout, re.M)
    objectives = re.findall(RAY_REGEX, run.stdout)
    assert len(iterations) >= 2 and len(objectives) == len(iterations)
    training = json.loads((tree.model / "metadata.json").read_text())["training"]
    assert training["stopped_by"].startswith("time_total_s") and training["time_total_s"] >= 6
    assert training["training_iteration"] == len(iterations)
    config = json.loads((tree.model / "config.json").read_text())
    assert config["config"]["kl_coeff"] == pytest.approx(0.7340516) and config["config"]["num_epochs"] == 2
