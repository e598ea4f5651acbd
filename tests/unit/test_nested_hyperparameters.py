"""The dotted grammar given nested, as SageMaker SDK 3 can pass it (its ``SourceCode`` mode exports each
hyperparameter as a shell variable, which ``rl.training.stop.training_iteration`` cannot be): ``{"rl": {...}}`` is
read as the dotted names of its leaves, by the job tree's reader and by a launcher script's (``SM_HPS``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.job.environment import flatten_nested, load_environment
from runtime.plugins import INSTALLED
from sagemaker_rl.ray_launcher import job_hyperparameters
from tests.conftest import make_job_tree

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:", min_size=1, max_size=8)
LEAVES = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.just({}),
)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """The nested form of dotted names (an independent construction: one dict level per dot)."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")[1:]
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


@given(
    st.dictionaries(
        st.lists(NAMES, min_size=1, max_size=4).map(lambda parts: ".".join(["rl", *parts])), LEAVES, max_size=6
    )
)
def test_a_nested_rl_object_reads_as_its_dotted_names(flat: dict[str, Any]) -> None:
    # A name that is also another's prefix cannot be nested; such draws are not the nested form of anything.
    if not flat or any(other.startswith(name + ".") for name in flat for other in flat):
        return
    assert flatten_nested({"rl": _nest(flat), "preset": "cartpole-ppo"}) == {**flat, "preset": "cartpole-ppo"}


def test_a_name_given_both_ways_with_two_values_is_refused_naming_it() -> None:
    assert flatten_nested(
        {"rl": {"training": {"stop": {"training_iteration": 2}}}, "rl.training.stop.training_iteration": 2}
    ) == {"rl.training.stop.training_iteration": 2}
    with pytest.raises(
        UserError,
        match=r"rl\.training\.stop\.training_iteration is given twice: 3 and, inside the "
        r"'rl' object, 2",
    ):
        flatten_nested(
            {"rl": {"training": {"stop": {"training_iteration": 2}}}, "rl.training.stop.training_iteration": 3}
        )
    assert flatten_nested({"rl": "not an object"}) == {"rl": "not an object"}  # left to the grammar's own check


def test_a_job_tree_and_a_launcher_read_the_nested_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = {
        "training": {"config": {"lr": 0.001, "model": {"fcnet_hiddens": [32]}}, "stop": {"training_iteration": 2}}
    }
    tree = make_job_tree(tmp_path / "ml", {"rl": nested})
    hyperparameters = load_environment(tree.base).hyperparameters
    assert hyperparameters["rl.training.stop.training_iteration"] == 2
    spec = hp.resolve(hyperparameters, INSTALLED.validator_for)
    assert spec.stop["training_iteration"] == 2 and spec.config["lr"] == 0.001
    assert spec.config["model_config"]["fcnet_hiddens"] == [32]
    monkeypatch.setenv("SM_HPS", json.dumps({"rl": nested, "sagemaker_program": "train.py"}))
    assert job_hyperparameters()["rl.training.config.lr"] == 0.001
