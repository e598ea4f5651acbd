"""`rlrt tune` (SageMaker HyperparameterTuner's grammar on Ray Tune), and the container under SageMaker's own tuner."""

from __future__ import annotations

import math

import pytest

from runtime.errors import UserError
from runtime.tuning import ParameterRange, parse_tuning_spec

RAY_REGEX = r"episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)"  # RLEstimator's metric definition
TINY_JOB = {
    "rl.training.stop.training_iteration": 2,
    "rl.training.config.train_batch_size": 200,
    "rl.training.config.sgd_minibatch_size": 100,
    "rl.training.config.num_envs_per_worker": 1,
    "rl.training.config.num_workers": 0,
}


def _spec(**overrides: object) -> dict:
    base = {
        "max_jobs": 2,
        "hyperparameter_ranges": {
            "rl.training.config.lr": {"type": "Continuous", "min_value": 0.001, "max_value": 0.01}
        },
    }
    return {**base, **overrides}


def test_the_sdk_and_api_range_shapes_parse_to_the_same_ranges() -> None:
    sdk = parse_tuning_spec(
        _spec(
            hyperparameter_ranges={
                "rl.training.config.kl_coeff": {"type": "ContinuousParameter", "min_value": 0.5, "max_value": 1.0},
                "rl.training.config.num_sgd_iter": {
                    "type": "Integer",
                    "min_value": "3",
                    "max_value": 50,
                    "scaling_type": "Linear",
                },
                "rl.training.config.vf_share_layers": {"type": "Categorical", "values": ["true", "false"]},
            }
        )
    )
    api = parse_tuning_spec(
        {
            "max_jobs": 2,
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "rl.training.config.kl_coeff", "MinValue": "0.5", "MaxValue": "1.0"}
                ],
                "IntegerParameterRanges": [
                    {
                        "Name": "rl.training.config.num_sgd_iter",
                        "MinValue": "3",
                        "MaxValue": "50",
                        "ScalingType": "Linear",
                    }
                ],
                "CategoricalParameterRanges": [
                    {"Name": "rl.training.config.vf_share_layers", "Values": ["true", "false"]}
                ],
            },
        }
    )
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
        (
            {"hyperparameter_ranges": {"a": {"type": "Integer", "min_value": 1, "max_value": 2}}},
            "max_jobs must be an integer >= 1, got None",
        ),
        (_spec(objective_metric_name="loss"), "objective_metric_name must be one of episode_reward_mean"),
        (_spec(objective_type="Maximise"), "objective_type must be Maximize or Minimize"),
        (_spec(strategy="Hyperband"), "strategy must be one of Bayesian, Random, Grid"),
        (_spec(strategy="Grid"), "strategy Grid takes Categorical ranges only; rl.training.config.lr is not"),
        (
            _spec(strategy="Grid", hyperparameter_ranges={"a": {"type": "Categorical", "values": [1, 2, 3]}}),
            "strategy Grid runs every combination once: 3 jobs, but max_jobs is 2",
        ),
        (_spec(early_stopping_type="On"), "early_stopping_type must be one of Auto, Off"),
        (_spec(hyperparameter_ranges={}), "must name at least one hyperparameter"),
        (
            _spec(hyperparameter_ranges={"lr": {"type": "Float", "min_value": 0, "max_value": 1}}),
            "hyperparameter_ranges.lr.type must be one of Continuous, Integer, Categorical",
        ),
        (
            _spec(hyperparameter_ranges={"lr": {"type": "Continuous", "min_value": 0.1, "max_value": 0.1}}),
            "min_value \\(0.1\\) must be less than max_value",
        ),
        (
            _spec(
                hyperparameter_ranges={
                    "lr": {"type": "Continuous", "min_value": 0, "max_value": 1, "scaling_type": "Logarithmic"}
                }
            ),
            "Logarithmic scaling needs min_value > 0",
        ),
        (
            _spec(
                hyperparameter_ranges={
                    "g": {
                        "type": "Continuous",
                        "min_value": 0.5,
                        "max_value": 1.0,
                        "scaling_type": "ReverseLogarithmic",
                    }
                }
            ),
            "ReverseLogarithmic scaling needs 0 <= min_value < max_value < 1",
        ),
        (
            _spec(hyperparameter_ranges={"n": {"type": "Integer", "min_value": 1.5, "max_value": 4}}),
            "an Integer parameter needs integer bounds",
        ),
        (
            _spec(
                hyperparameter_ranges={
                    "n": {"type": "Integer", "min_value": 1, "max_value": 4, "scaling_type": "Exponential"}
                }
            ),
            "scaling_type must be one of",
        ),
        (_spec(hyperparameter_ranges={"c": {"type": "Categorical"}}), "values must be a non-empty list"),
        (
            _spec(hyperparameter_ranges={"c": {"type": "Categorical", "values": [1], "min_value": 0}}),
            "a Categorical parameter takes only 'values'",
        ),
        (
            _spec(hyperparameter_ranges={"lr": {"type": "Continuous", "min_value": "low", "max_value": 1}}),
            "min_value must be a number, got 'low'",
        ),
        (_spec(static_hyperparameters={"rl.training.config.lr": 0.1}), "both static and tuned"),
    ],
)
def test_bad_tuning_requests_are_user_errors(raw: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_tuning_spec(raw)


def test_an_unquoted_yaml_off_is_early_stopping_off() -> None:
    """docs/SCALING.md's tuning.yaml writes `early_stopping_type: Off`; YAML 1.1 reads an unquoted Off as false."""
    import yaml

    raw = yaml.safe_load(
        "early_stopping_type: Off\nmax_jobs: 2\n"
        "hyperparameter_ranges: {rl.training.config.lr: {type: Continuous, min_value: 0.001, "
        "max_value: 0.01}}\n"
    )
    assert raw["early_stopping_type"] is False
    assert parse_tuning_spec(raw).early_stopping_type == "Off"
    with pytest.raises(UserError, match="early_stopping_type must be one of Auto, Off, got 'True'"):
        parse_tuning_spec({**raw, "early_stopping_type": True})


def test_a_grid_runs_every_combination_once_and_needs_no_max_jobs() -> None:
    spec = parse_tuning_spec(
        {
            "strategy": "Grid",
            "hyperparameter_ranges": {
                "rl.training.config.num_sgd_iter": {"type": "Categorical", "values": ["1", "2", "3"]},
                "rl.training.config.vf_share_layers": {"type": "Categorical", "values": ["true", "false"]},
            },
        }
    )
    assert spec.max_jobs == 6 and spec.strategy == "Grid"


def test_tune_checks_deepracer_names_as_train_does() -> None:
    """`rlrt tune` resolves through runtime.job.setup.resolve_spec, so DeepRacer's own names are understood."""
    from runtime.plugins import INSTALLED
    from runtime.tuning import check_hyperparameters

    ranges = {"lr": {"type": "Continuous", "min_value": 0.0001, "max_value": 0.001}}
    check_hyperparameters(
        parse_tuning_spec(
            _spec(
                static_hyperparameters={"preset": "deepracer-ppo", "batch_size": "64", "discount_factor": "0.999"},
                hyperparameter_ranges=ranges,
            )
        ),
        INSTALLED,
    )
    with pytest.raises(UserError, match="discount_factor"):
        check_hyperparameters(
            parse_tuning_spec(
                _spec(
                    static_hyperparameters={"preset": "deepracer-ppo", "discount_factor": 2},
                    hyperparameter_ranges=ranges,
                )
            ),
            INSTALLED,
        )
    with pytest.raises(UserError, match="batch_size"):  # not a CartPole hyperparameter: refused, as `rlrt train` does
        check_hyperparameters(parse_tuning_spec(_spec(static_hyperparameters={"batch_size": 64})), INSTALLED)


def test_a_search_larger_than_sagemakers_limit_is_refused_naming_the_key_value_and_bound() -> None:
    assert parse_tuning_spec(_spec(max_jobs=500)).max_jobs == 500
    with pytest.raises(
        UserError,
        match=r"^max_jobs is 1000000000000, over the bound of 500 trials a search may run "
        r"\(SageMaker's HyperparameterTuner limit\): give max_jobs from 1 to 500",
    ):
        parse_tuning_spec(_spec(max_jobs=10**12))
    many = {f"rl.training.config.p{i}": {"type": "Categorical", "values": list(range(10))} for i in range(12)}
    with pytest.raises(
        UserError,
        match=r"strategy Grid runs every combination once: 1000000000000 jobs, over the "
        "bound of 500",
    ):
        parse_tuning_spec({"strategy": "Grid", "hyperparameter_ranges": many})
