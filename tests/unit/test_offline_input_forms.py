"""RLlib 1.x's ``input`` forms: an offline (d3rlpy) job reads the data a path, a glob pattern, a list of
them or a ``{path: weight}`` dict names (the files sorted, each once; ``"sampler"`` refused: an offline algorithm
cannot sample); an online (RLlib) job ignores ``input: "sampler"`` (RLlib 1.x's default) and ``input_evaluation``
without logged data, each with one line, and still refuses a real ``input``."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from runtime.backends.rllib.config import OLD_REFUSED
from runtime.errors import UserError
from runtime.job.environment import JobEnvironment
from runtime.names import MODULE_DIR_ENV
from runtime.offline.dataset import load_logged_data
from runtime.offline.sources import (
    common_folder,
    given_data_sources,
    input_patterns,
    input_problem,
    is_sampler,
    source_files,
)
from runtime.plugins import INSTALLED
from runtime.job.plan import given_config
from tests.config_problems import full_problems

HEADER = "action,all_action_probabilities,episode_id,reward,state_feature_0,state_feature_1\n"
VALIDATOR_LOG = "runtime.backends.rllib.validator"


def _rollouts(path: Path, episodes: int = 2) -> Path:
    """A tiny CSV in the rollout format: ``episodes`` episodes of 3 steps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f'{t % 2},"[0.5, 0.5]",{e},1.0,{0.1 * t},{-0.1 * e}' for e in range(episodes) for t in range(3)]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobEnvironment:
    """A local job tree under ``tmp_path/ml`` (``/opt/ml`` paths map into it), with a code folder; cwd elsewhere."""
    monkeypatch.delenv(MODULE_DIR_ENV, raising=False)
    base = tmp_path / "ml"
    (base / "code").mkdir(parents=True)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return JobEnvironment(
        base_dir=base, hyperparameters={}, current_host="algo-1", hosts=("algo-1",), num_cpus=1, num_gpus=0
    )


def _train(job: JobEnvironment) -> Path:
    return job.channel_dir("train")


def test_an_absolute_sagemaker_glob_reads_the_matching_files_of_the_jobs_tree(job: JobEnvironment) -> None:
    a, b = _rollouts(_train(job) / "b.csv"), _rollouts(_train(job) / "a.csv", episodes=3)
    (_train(job) / "notes.txt").write_text("not data")
    sources = given_data_sources(job, "/opt/ml/input/data/train/*.csv")
    assert sources == [b.resolve(), a.resolve()]  # sorted
    data = load_logged_data(sources)
    assert data.files == (b.resolve(), a.resolve()) and data.num_episodes == 5
    assert common_folder(sources) == _train(job).resolve()


def test_a_list_of_globs_and_paths_gives_each_file_once_sorted(job: JobEnvironment) -> None:
    first = _rollouts(_train(job) / "day1" / "part-0.csv")
    second = _rollouts(_train(job) / "day2" / "part-0.csv")
    _rollouts(_train(job) / "day2" / "part-1.parquet.bak")  # not matched by *.csv
    value = [
        "/opt/ml/input/data/train/day2/*.csv",
        "/opt/ml/input/data/train/day1/*.csv",
        str(first),
        "/opt/ml/input/data/train/day?/part-[0].csv",
        "/opt/ml/input/data/train/day2/*.csv",
    ]
    sources = given_data_sources(job, value)
    assert sources == [second.resolve(), first.resolve()]  # in the order given, each once
    assert source_files(sources) == [first.resolve(), second.resolve()]  # the data files: sorted
    assert load_logged_data(sources).num_episodes == 4
    assert common_folder(sources) == _train(job).resolve()


def test_a_folder_and_a_file_in_it_are_read_once(job: JobEnvironment) -> None:
    one = _rollouts(_train(job) / "one.csv")
    two = _rollouts(_train(job) / "two.csv")
    files = source_files(given_data_sources(job, [str(_train(job)), str(one)]))
    assert files == [one.resolve(), two.resolve()]


def test_relative_patterns_are_looked_up_in_the_code_folder(job: JobEnvironment) -> None:
    data = _rollouts(job.base_dir / "code" / "data" / "rollouts.csv")
    assert given_data_sources(job, ["data/*.csv"]) == [data.resolve()]
    assert given_data_sources(job, "data") == [data.parent.resolve()]


def test_a_dict_of_paths_reads_them_all_and_says_once_that_the_weights_are_ignored(
    job: JobEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = _rollouts(_train(job) / "a.csv"), _rollouts(_train(job) / "b.csv")
    with caplog.at_level(logging.WARNING, logger="runtime.offline.sources"):
        sources = given_data_sources(job, {"/opt/ml/input/data/train/b.csv": 0.7, str(a): 0.3})
    assert sources == [b.resolve(), a.resolve()]
    lines = [r.getMessage() for r in caplog.records if "weights" in r.getMessage()]
    assert len(lines) == 1 and "rl.training.config.input" in lines[0]
    assert given_data_sources(job, {str(a): 1}, warn=False) == [a.resolve()]


@pytest.mark.parametrize(
    "value",
    [
        "sampler",
        {"sampler": 1.0},
        {"sampler": 0.5, "/opt/ml/input/data/train": 0.5},
        ["/opt/ml/input/data/train", "sampler"],
    ],
)
def test_sampler_is_refused_naming_the_train_channel(job: JobEnvironment, value: Any) -> None:
    with pytest.raises(UserError, match="offline algorithm cannot sample") as info:
        given_data_sources(job, value)
    assert "'train' input channel" in str(info.value)
    assert input_problem(value) == str(info.value)


def test_a_missing_path_and_a_glob_matching_nothing_are_named(job: JobEnvironment) -> None:
    _rollouts(_train(job) / "a.csv")
    with pytest.raises(UserError, match="'/opt/ml/input/data/train/missing.csv', which does not exist") as info:
        given_data_sources(job, ["/opt/ml/input/data/train/a.csv", "/opt/ml/input/data/train/missing.csv"])
    assert str(_train(job) / "missing.csv") in str(info.value)  # where it looked
    with pytest.raises(UserError, match=r"the glob pattern '/opt/ml/input/data/train/\*\.json' matches no file"):
        given_data_sources(job, ["/opt/ml/input/data/train/*.csv", "/opt/ml/input/data/train/*.json"])
    with pytest.raises(UserError, match=r"the glob pattern 'logs/\*\*/\*\.csv' matches no file"):
        given_data_sources(job, "logs/**/*.csv")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([], "an empty list"),
        ({}, "an empty dict"),
        ("", "must name logged data"),
        ("  ", "must name logged data"),
        (5, "got 5 (int)"),
        (None, "got null (NoneType)"),
        (True, "(bool)"),
        ([["a.csv"]], "(a list) must hold"),
        (["a.csv", ""], "(a list) must hold"),
        ({"a.csv": 1, "": 2}, "(a dict of {path: weight}) must hold"),
        (["a\x00.csv"], "must hold non-empty paths"),
    ],
)
def test_other_forms_are_refused_before_anything_is_read(value: Any, words: str) -> None:
    with pytest.raises(UserError, match="'rl.training.config.input'") as info:
        input_patterns(value)
    assert words in str(info.value)


def test_the_forms_accepted() -> None:
    assert input_patterns("/opt/ml/input/data/train") == ["/opt/ml/input/data/train"]
    assert input_patterns(["a/*.csv", "b.csv", "a/*.csv"]) == ["a/*.csv", "b.csv"]
    assert input_patterns({"a.csv": 0.2, "b/*.json": "x"}) == ["a.csv", "b/*.json"]
    assert is_sampler("sampler") and is_sampler({"sampler": 1.0})
    assert not is_sampler({"sampler": 0.5, "a": 0.5}) and not is_sampler(["sampler"]) and not is_sampler("a")


PATHISH = st.sampled_from(
    [
        "sampler",
        "",
        " ",
        "a.csv",
        "*.csv",
        "/opt/ml/input/data/train/*.csv",
        "[",
        "~nobody_x/a",
        "../x",
        "data/**",
        "\x00",
        "\u00e9t\u00e9.csv",
    ]
) | st.text(max_size=8).map(lambda s: s.lstrip("/"))
"""Paths and patterns; random text only relative (an absolute pattern of random text could walk the whole disk)."""
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), PATHISH)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(PATHISH, inner, max_size=4)),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES)
@example(value={"sampler": 1, "a.csv": [1]})
@example(value=[["sampler"]])
@example(value={"": 1})
def test_any_value_is_a_list_of_patterns_or_a_user_error(value: Any) -> None:
    """Whatever the (JSON-like) value, the parser gives non-empty patterns or a UserError, never another exception;
    the configuration check says the same."""
    try:
        patterns = input_patterns(value)
    except UserError as exc:
        assert str(exc).startswith("'rl.training.config.input'") and input_problem(value) == str(exc)
        return
    assert patterns and all(isinstance(p, str) and p.strip() and p != "sampler" for p in patterns)
    assert len(set(patterns)) == len(patterns) and input_problem(value) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES)
@example(value=["/opt/ml/input/data/train/*.csv", "[", "~nobody_x/a"])
def test_any_value_resolves_to_existing_sources_or_a_user_error(
    tmp_path_factory: pytest.TempPathFactory, value: Any
) -> None:
    """On disk too: existing files and folders, or a UserError (a glob matching nothing, a missing path)."""
    root = tmp_path_factory.mktemp("forms")
    _rollouts(root / "ml" / "input" / "data" / "train" / "a.csv")
    (root / "ml" / "code").mkdir()
    job = JobEnvironment(
        base_dir=root / "ml", hyperparameters={}, current_host="algo-1", hosts=("algo-1",), num_cpus=1, num_gpus=0
    )
    with contextlib.chdir(root / "ml" / "code"):
        try:
            sources = given_data_sources(job, value, warn=False)
        except UserError:
            return
    assert sources and all(p.exists() for p in sources) and len(set(sources)) == len(sources)


# --- online (RLlib) jobs: RLlib 1.x's default input and its off-policy estimation are ignored --------------------
def _full(config: dict[str, Any]) -> list[str]:
    return full_problems(
        {"preset": "cartpole-ppo", **{f"rl.training.config.{k}": v for k, v in config.items()}}, num_cpus=2
    )


def _quick(config: dict[str, Any]) -> list[str]:
    given_ = {f"rl.training.config.{k}": v for k, v in config.items()}
    return INSTALLED.backend_for("PPO").quick_check("PPO", given_config(given_))


def _lines(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == VALIDATOR_LOG and words in r.getMessage()]


@pytest.mark.parametrize("value", ["sampler", {"sampler": 1.0}])
def test_an_online_job_ignores_input_sampler_with_one_line(value: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=VALIDATOR_LOG):
        assert _full({"input": value, "input_evaluation": ["is", "wis"]}) == []
    assert len(_lines(caplog, "rl.training.config.input=")) == 1
    assert "RLlib 1.x's default (sample the environment): ignored" in _lines(caplog, "rl.training.config.input=")[0]
    assert len(_lines(caplog, "rl.training.config.input_evaluation=")) == 1
    caplog.clear()
    assert _quick({"input": value, "input_evaluation": ["is", "wis"]}) == []
    assert _lines(caplog, "rl.training.config.input") == []  # the quick check says nothing: the full check does


def test_an_online_job_ignores_input_evaluation_without_input(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=VALIDATOR_LOG):
        assert _full({"input_evaluation": ["simulation"]}) == []
    lines = _lines(caplog, "input_evaluation")
    assert len(lines) == 1 and "rlrt's online training reports its own metrics: ignored" in lines[0]
    assert _quick({"input_evaluation": ["simulation"]}) == []


@pytest.mark.parametrize(
    "value",
    [
        "/opt/ml/input/data/train",
        ["/opt/ml/input/data/train/*.json"],
        {"sampler": 0.5, "/opt/ml/input/data/train": 0.5},
    ],
)
def test_an_online_job_still_refuses_logged_data_and_its_input_evaluation(value: Any) -> None:
    config = {"input": value, "input_evaluation": ["is"]}
    problems = _full(config)
    assert sorted(problems) == sorted(_quick(config))
    assert len(problems) == 2
    assert any(
        p.startswith(
            "'rl.training.config.input' (RLlib 1.x: train from logged experiences) needs an offline "
            "algorithm; PPO trains online"
        )
        for p in problems
    )
    assert f"'rl.training.config.input_evaluation' {OLD_REFUSED['input_evaluation']}" in problems
    assert "goes with 'input', which needs an offline algorithm" in OLD_REFUSED["input_evaluation"]


# --- offline (d3rlpy) jobs: the configuration check refuses the forms the loader would -------------------------
def _offline(value: Any) -> tuple[list[str], list[str]]:
    given_ = {"rl.training.run": "DiscreteBCQ", "rl.training.config.input": value}
    quick = INSTALLED.backend_for("DiscreteBCQ").quick_check("DiscreteBCQ", given_config(given_))
    return quick, full_problems({"preset": "cartpole-bcq", **given_}, num_cpus=2)


def test_an_offline_jobs_check_accepts_the_forms_and_refuses_sampler() -> None:
    for value in ("/opt/ml/input/data/train/*.csv", ["a/*.csv", "b.csv"], {"a.csv": 0.5, "b.csv": 0.5}):
        assert _offline(value) == ([], [])
    quick, full = _offline({"sampler": 0.5, "a.csv": 0.5})
    assert quick == full and len(full) == 1 and "offline algorithm cannot sample" in full[0]
