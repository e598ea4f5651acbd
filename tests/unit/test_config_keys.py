"""RLlib's configuration schemas kept as data (``runtime/backends/rllib/config_keys.json``): the stored file is what
the installed RLlib gives (so it cannot drift), and the quick check before RLlib loads names exactly the unknown keys
and wrong values the full check names, in the same words (a mistake named within a second, not after Ray
started), a value given under an RLlib 1.x name named as typed, with its 2.x name after it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runtime.backends.rllib.config import OLD_NAMES
from runtime.backends.rllib.config_keys import ALGORITHMS, KEYS_FILE, generate, quick_problems
from runtime.plugins import INSTALLED
from runtime.job.plan import given_config
from tests.config_problems import full_problems

RLLIB_ALGORITHMS = [a for a in ALGORITHMS if INSTALLED.backend_for(a).name == "rllib"]


def test_the_stored_schemas_are_the_installed_rllibs() -> None:
    stored = json.loads(KEYS_FILE.read_text())
    assert stored == generate(), "regenerate: python -m runtime.backends.rllib.config_keys"


def _full(algorithm: str, given: dict[str, Any]) -> list[str]:
    """The full check's problems (hp.resolve, RLlib imported) with the user's ``rl.training.config.*`` ``given``."""
    return full_problems({"preset": "cartpole-ppo", "rl.training.run": algorithm, **given}, num_cpus=2)


def _quick(algorithm: str, given: dict[str, Any]) -> list[str]:
    """The quick check's problems, given the hyperparameters as the job hands them to it (no RLlib import)."""
    return INSTALLED.backend_for(algorithm).quick_check(algorithm, given_config(given))


def _config(keys: list[str], value: Any = 1) -> dict[str, Any]:
    return {f"rl.training.config.{k}": value for k in keys}


@pytest.mark.parametrize("algorithm", RLLIB_ALGORITHMS)
def test_the_quick_check_names_what_the_full_check_names(algorithm: str) -> None:
    """Typos, keys of other algorithms, refused keys and RLlib 1.x names (each set to 1): the same problems, word for
    word; a 1.x name RLlib 2.x's algorithm lacks is named as typed, with its 2.x name after it."""
    plain = [
        "lrr",
        "gamma",
        "train_batch_sise",
        "lr",
        "callbacks",
        "_private",
        "entropy_coef",
        "tau",
        "twin_q",
        "rollout_fragment_lenght",
        "clip_param",
        "vtrace",
        "num_steps_sampled_before_learning_starts",
        "exploration_config",
        "render_env",
    ]
    translated = [
        "num_sgd_iter",
        "sgd_minibatch_size",
        "num_workers",
        "model_config",
        "observation_filter",
        "horizon",
        "buffer_size",
        "prioritized_replay_alpha",
        "lr_schedule",
        "vf_share_layers",
        *list(OLD_NAMES),
    ]
    for keys in (plain, translated):
        quick = _quick(algorithm, _config(keys))
        assert sorted(quick) == sorted(_full(algorithm, _config(keys)))
    if algorithm == "PPO":
        assert (
            "Unknown PPO configuration key 'rl.training.config.learning_starts' (RLlib 2.x: "
            "num_steps_sampled_before_learning_starts)."
        ) in _quick(algorithm, _config(["learning_starts"]))


TYPE_ERRORS = [
    ({"num_sgd_iter": 4.5}, "'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs) must be an integer, got 4.5"),
    (
        {"num_sgd_iter": "four"},
        "'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs) must be an integer, got \"four\"",
    ),
    ({"num_epochs": 0}, "'rl.training.config.num_epochs' must be an integer >= 1, got 0"),
    (
        {"sgd_minibatch_size": True},
        "'rl.training.config.sgd_minibatch_size' (RLlib 2.x: minibatch_size) must be an integer, got true",
    ),
    (
        {"num_workers": -1},
        "'rl.training.config.num_workers' (RLlib 2.x: num_env_runners) must be an integer >= 0, got -1",
    ),
    ({"lambda_": 1.5}, "'rl.training.config.lambda_' (RLlib 2.x: lambda) must be a number in [0, 1], got 1.5"),
    ({"lr": "fast"}, "'rl.training.config.lr' must be a number, got \"fast\""),
    ({"gamma": [0.9]}, "'rl.training.config.gamma' must be a number, got [0.9]"),
    (
        {"lr_schedule": [[5, 0.1]]},
        "'rl.training.config.lr_schedule' (RLlib 2.x: lr) schedule must start at timestep 0, got [[5, 0.1]]",
    ),
    (
        {"vf_share_layers": "yes"},
        "'rl.training.config.vf_share_layers' (RLlib 2.x: model_config.vf_share_layers) "
        'must be true or false, got "yes"',
    ),
    ({"model_config.fcnet_hiddens": 64}, "'rl.training.config.model_config.fcnet_hiddens' must be a list, got 64"),
    # RLlib 1.x's "model" dict: named as typed, with the 2.x name after it.
    (
        {"model.fcnet_hiddens": "abc"},
        "'rl.training.config.model.fcnet_hiddens' (RLlib 2.x: model_config.fcnet_hiddens) must be a list, got \"abc\"",
    ),
    (
        {"model.free_log_std": 3},
        "'rl.training.config.model.free_log_std' (RLlib 2.x: model_config.free_log_std) must be true or false, got 3",
    ),
    (
        {"batch_mode": "whole"},
        "'rl.training.config.batch_mode' must be one of truncate_episodes, complete_episodes, got \"whole\"",
    ),
    ({"explore": "no"}, "'rl.training.config.explore' must be true or false, got \"no\""),
    (
        {"env_runner_health_probe_timeout_s": "soon"},
        "'rl.training.config.env_runner_health_probe_timeout_s' must be a number, got \"soon\"",
    ),
    # RLlib 1.x's custom model is kept until the environment is known (an action mask replaces it); its name is checked.
    ({"model.custom_model": 5}, "'rl.training.config.model.custom_model' must be the name of a model, got 5"),
    (
        {"model.custom_model_config": [1]},
        "'rl.training.config.model.custom_model_config' must be a JSON object, got [1]",
    ),
    # The offline IMPALA example's off-policy estimation beside a real 'input' is named for what it was (both
    # checks): tests/unit/test_offline_input_forms.py; without 'input' (RLlib 1.x sampled) it is ignored.
]


@pytest.mark.parametrize(("given", "problem"), TYPE_ERRORS, ids=[next(iter(g)) for g, _ in TYPE_ERRORS])
def test_a_wrong_value_gets_the_same_words_from_both_checks(given: dict[str, Any], problem: str) -> None:
    config = {f"rl.training.config.{k}": v for k, v in given.items()}
    assert _quick("PPO", config) == [problem]
    assert _full("PPO", config) == [problem]


KEYS = [
    "lr",
    "gamma",
    "lambda",
    "num_epochs",
    "minibatch_size",
    "train_batch_size_per_learner",
    "grad_clip",
    "seed",
    "rollout_fragment_length",
    "num_cpus_per_learner",
    "entropy_coeff",
    "batch_mode",
    "observation_filter",
    "num_env_runners",
    "explore",
    "model_config",
    "model_config.fcnet_hiddens",
    "model_config.log_std_init",
    "model_config.fcnet_hidden",
    "model.fcnet_hiddens",
    "model",
    "vf_share_layers",
    "free_log_std",
    "lr_schedule",
    "entropy_coeff_schedule",
    "num_sgd_iter",
    "sgd_minibatch_size",
    "num_workers",
    "train_batch_size",
    "lambda_",
    "learning_starts",
    "target_update_frequency",
    "horizon",
    "buffer_size",
    "replay_buffer_config",
    "prioritized_replay",
    "optimization",
    "use_critic",
    "framework",
    "exploration_config",
    "evaluation_config",
    "env_config",
    "multi_agent_policies",
    "output",
    "lrr",
    "tau",
    "n_step",
    "twin_q",
    "num_gpus",
    "model.custom_model",
    "input_evaluation",
    "input",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "4",
            "4.5",
            "-1",
            "1e-3",
            "auto",
            "nan",
            "1e400",
            "",
            "torch",
            "tf",
            "NoFilter",
            "truncate_episodes",
            "shared",
            "logdir",
            "sampler",
        ]
    ),
    st.text(max_size=6),
    st.lists(st.integers(-2, 300), max_size=3),
    st.lists(st.lists(st.floats(-1, 1e6, allow_nan=False), min_size=2, max_size=2), max_size=3),
    st.dictionaries(
        st.sampled_from(["fcnet_hiddens", "capacity", "actor_learning_rate", "x"]),
        st.one_of(st.integers(1, 64), st.lists(st.integers(1, 64), max_size=2)),
        max_size=2,
    ),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    algorithm=st.sampled_from(RLLIB_ALGORITHMS),
    config=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=3),
)
@example(algorithm="PPO", config={"num_epochs": 4.5, "num_sgd_iter": 3})
@example(algorithm="PPO", config={"num_epochs": 3, "num_sgd_iter": 4.5})
@example(algorithm="DQN", config={"lr_schedule": [[0, 0.1]], "lr": "x"})
def test_the_quick_check_never_refuses_what_the_full_check_accepts(algorithm: str, config: dict[str, Any]) -> None:
    """Whatever the values, the quick check does not crash, and each problem it names the full check names too."""
    given_ = {f"rl.training.config.{k}": v for k, v in config.items()}
    quick = _quick(algorithm, given_)
    assert set(quick) <= set(_full(algorithm, given_))


def test_an_algorithm_without_a_stored_schema_is_left_to_the_full_check() -> None:
    assert quick_problems("DreamerV3", {"anything": 1}) == []
