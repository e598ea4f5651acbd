"""d3rlpy's configuration schemas kept as data (``runtime/backends/d3rlpy/config_keys.json``): the stored file is what
the installed d3rlpy gives (so it cannot drift), and the quick check before d3rlpy loads names exactly the unknown
keys, wrong types and out-of-range values the full check names, in the same words (an offline job's typo
named at once, not after d3rlpy and torch are imported); whether d3rlpy can build a factory value is the full
check's alone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runtime.backends.d3rlpy.config import ALGORITHMS, COACH_NAMES, OWN_KEYS, is_discrete, live_schema
from runtime.backends.d3rlpy.config_keys import KEYS_FILE, generate, quick_problems, stored_schema
from runtime.config.limits import limit_problems
from runtime.plugins import INSTALLED
from runtime.job.plan import given_config
from tests.config_problems import full_problems

PREFIX = "rl.training.config."
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _d3rlpy() -> None:
    """Import d3rlpy once for the module (the full check needs it), so no example pays for the import."""
    live_schema("DiscreteBCQ")


def test_the_stored_schemas_are_the_installed_d3rlpys() -> None:
    stored = json.loads(KEYS_FILE.read_text())
    assert stored == generate(), "regenerate: python -m runtime.backends.d3rlpy.config_keys"
    assert sorted(stored["algorithms"]) == sorted(ALGORITHMS)


def _preset(algorithm: str) -> str:
    return "cartpole-bcq" if is_discrete(algorithm) else "pendulum-bcq"


def _full(algorithm: str, given: dict[str, Any]) -> list[str]:
    """The full check's problems (hp.resolve, d3rlpy imported) with the user's ``rl.training.config.*`` ``given``."""
    return full_problems({"preset": _preset(algorithm), "rl.training.run": algorithm, **given})


def _quick(algorithm: str, given: dict[str, Any]) -> list[str]:
    """The quick check's problems, given the hyperparameters as the job hands them to it (no d3rlpy import): the
    limits every hyperparameter keeps first, as runtime.train.job's quick check applies them."""
    return limit_problems(given) or INSTALLED.backend_for(algorithm).quick_check(algorithm, given_config(given))


def _config(given: dict[str, Any]) -> dict[str, Any]:
    return {PREFIX + key: value for key, value in given.items()}


MISTAKES = [
    ({"batch_size": "big"}, "'batch_size' must be an integer, got \"big\""),
    ({"n_critics": 2.5}, "'n_critics' must be an integer, got 2.5"),
    ({"target_update_interval": True}, "'target_update_interval' must be an integer, got true"),
    ({"learning_rate": "fast"}, "'learning_rate' must be a number, got \"fast\""),
    ({"gamma": [0.9]}, "'gamma' must be a number, got [0.9]"),
    ({"discount": "nan"}, "'gamma' must be a number, got \"nan\""),
    ({"share_encoder": "yes"}, "'share_encoder' must be true or false, got \"yes\""),
    ({"compile_graph": 1}, "'compile_graph' must be true or false, got 1"),
    ({"encoder_factory": 3}, '\'encoder_factory\' must be a type name or {"type": ..., "params": {...}}, got 3'),
    (
        {"observation_scaler": [1]},
        '\'observation_scaler\' must be a type name or {"type": ..., "params": {...}}, got [1]',
    ),
    ({"gamma": 1.5}, "'gamma' must be in (0, 1], got 1.5"),
    ({"discount": 0}, "'gamma' must be in (0, 1], got 0"),
    ({"batch_size": 0}, "'batch_size' must be >= 1, got 0"),
    ({"target_update_interval": "0"}, "'target_update_interval' must be >= 1, got 0"),
    ({"learning_rate": 0}, "'learning_rate' must be > 0, got 0"),
    ({"lr": "-1e-3"}, "'learning_rate' must be > 0, got -0.001"),
    ({"lr": 0.1, "learning_rate": 0.1}, "'lr' and 'learning_rate' both given; give only 'learning_rate'"),
    ({"discount": 0.9, "gamma": 0.9}, "'discount' and 'gamma' both given; give only 'gamma'"),
    (
        {"num_steps_between_copying_online_weights_to_target": 5, "target_update_interval": 5},
        "'num_steps_between_copying_online_weights_to_target' and 'target_update_interval' both given; give only "
        "'target_update_interval'",
    ),
    ({"n_steps_per_epoch": 0}, "'n_steps_per_epoch' must be an integer >= 1 (gradient steps per epoch), got 0"),
    (
        {"select_by": "bogus"},
        "'select_by' must be one of last, ope_sdr, ope_wis, ope_is, ope_fqe, episode_reward_mean, got \"bogus\"",
    ),
    ({"hidden_units": []}, "'hidden_units' must be a list of layer sizes such as [256, 256], got []"),
    (
        {"num_threads": "two"},
        "'num_threads' must be an integer >= 1 (the learner's torch CPU threads), got \"two\" (str)",
    ),
]


@pytest.mark.parametrize(("given", "problem"), MISTAKES, ids=[" ".join(g) for g, _ in MISTAKES])
def test_a_mistake_gets_the_same_words_from_both_checks(given: dict[str, Any], problem: str) -> None:
    assert _quick("DiscreteBCQ", _config(given)) == [problem]
    assert _full("DiscreteBCQ", _config(given)) == [problem]


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_unknown_keys_get_the_same_words_from_both_checks(algorithm: str) -> None:
    """Typos (with the closest key), other algorithms' keys and nonsense, each set to 1, for every algorithm."""
    keys = [
        "learning_rat",
        "gama",
        "batch_sise",
        "actor_learning_rat",
        "alpha",
        "share_encoder",
        "tau",
        "action_flexibility",
        "n_steps_per_epok",
        "xyz",
        "lrr",
    ]
    given = _config({key: 1 for key in keys})
    quick = _quick(algorithm, given)
    assert sorted(quick) == sorted(_full(algorithm, given))
    class_name = stored_schema(algorithm).class_name
    assert (f"Unknown {class_name} setting 'rl.training.config.gama'. Did you mean 'gamma'? Valid: ") in "\n".join(
        quick
    )


def test_the_words_name_the_algorithms_config_class_under_any_of_its_names() -> None:
    problem = _quick("ddqn_bcq", _config({"learning_rat": 0.001}))
    assert len(problem) == 1 and problem[0].startswith(
        "Unknown DiscreteBCQConfig setting 'rl.training.config.learning_rat'. Did you mean 'learning_rate'? Valid: "
    )
    assert problem == _full("DDQN_BCQ", _config({"learning_rat": 0.001}))


def test_what_only_d3rlpy_can_decide_is_left_to_the_full_check() -> None:
    given = _config({"q_func_factory": "nonsense", "batch_size": "64", "lr": "3e-4"})
    assert _quick("DiscreteBCQ", given) == []
    full = _full("DiscreteBCQ", given)
    assert len(full) == 1 and full[0].startswith("'q_func_factory': d3rlpy cannot build")


def test_an_algorithm_without_a_stored_schema_is_left_to_the_full_check() -> None:
    assert quick_problems("PPO", {"anything": 1}) == []
    assert stored_schema("PPO") is None


KEYS = [
    "learning_rate",
    "lr",
    "gamma",
    "discount",
    "batch_size",
    "n_critics",
    "target_update_interval",
    "num_steps_between_copying_online_weights_to_target",
    "action_flexibility",
    "beta",
    "share_encoder",
    "compile_graph",
    "observation_scaler",
    "reward_scaler",
    "encoder_factory",
    "encoder_factory.params",
    "q_func_factory",
    "optim_factory",
    "actor_learning_rate",
    "critic_learning_rate",
    "tau",
    "alpha",
    "conservative_weight",
    "soft_q_backup",
    "learning_rat",
    "env",
    "monitor",
    "env_config",
    *list(OWN_KEYS),
    *list(COACH_NAMES),
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.sampled_from([10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "4",
            "4.5",
            "-1",
            "0",
            "1e-3",
            "nan",
            "1e400",
            "",
            "standard",
            "min_max",
            "vector",
            "adam",
            "none",
            "mean",
            "nonsense",
            "last",
            "ope_wis",
            "CartPole-v1",
        ]
    ),
    st.text(max_size=6),
    st.lists(st.integers(-2, 300), max_size=3),
    st.dictionaries(
        st.sampled_from(["type", "params", "hidden_units", "x"]),
        st.one_of(
            st.sampled_from(["vector", "adam", "standard"]),
            st.integers(1, 64),
            st.lists(st.integers(1, 64), max_size=2),
        ),
        max_size=2,
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    algorithm=st.sampled_from(list(ALGORITHMS)),
    config=st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1, max_size=3),
)
@example(algorithm="DiscreteBCQ", config={"gamma": 2, "batch_size": "x"})
@example(algorithm="DiscreteBCQ", config={"encoder_factory": "nonsense", "gamma": 2})
@example(algorithm="BCQ", config={"env": "Pendulum-v1", "actor_learning_rate": "1e400"})
def test_the_quick_check_never_refuses_what_the_full_check_accepts(algorithm: str, config: dict[str, Any]) -> None:
    """Whatever the values, the quick check does not crash, and each problem it names the full check names too
    (so a config the full check accepts passes the quick check)."""
    given_ = _config(config)
    quick = _quick(algorithm, given_)
    assert set(quick) <= set(_full(algorithm, given_))


def test_the_quick_check_imports_neither_d3rlpy_nor_torch() -> None:
    code = textwrap.dedent("""
        import sys
        from runtime.backends.d3rlpy.factory import BACKEND
        problems = BACKEND.quick_check("DiscreteBCQ", {"learning_rat": 0.001, "gamma": "2"})
        assert problems and "Did you mean 'learning_rate'?" in problems[0], problems
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("d3rlpy", "torch")))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the quick check imported {result.stdout.strip()}"
