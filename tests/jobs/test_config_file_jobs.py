"""Malformed files under ``input/config`` end a real ``rlrt train`` as user errors (exit 2, no traceback) whose
message names the file, and the line and column of a syntax error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_job_tree, run_rlrt

CASES = [
    # (file, content, phrases the failure must hold)
    (
        "hyperparameters.json",
        '{"rl.training.stop.training_iteration": "1",\n  "preset": }',
        [r"hyperparameters\.json is not valid JSON: Expecting value at line 2, column 13"],
    ),
    ("hyperparameters.json", "[1, 2]", [r"hyperparameters\.json must hold a JSON object .*, but it holds an array"]),
    (
        "hyperparameters.json",
        '{"rl.training.stop.training_iteration": {"a": 1}}',
        [r"'rl\.training\.stop\.training_iteration' must be an integer >= 1"],
    ),
    (
        "resourceconfig.json",
        '{"current_host": "algo-1", "hosts": ["algo-1"]',
        [r"resourceconfig\.json is not valid JSON: Expecting ',' delimiter at line 1, column 47"],
    ),
    ("resourceconfig.json", '"algo-1"', [r"resourceconfig\.json must hold a JSON object .*, but it holds a string"]),
    (
        "resourceconfig.json",
        '{"current_host": "algo-1", "hosts": "algo-1"}',
        [r"resourceconfig\.json: 'hosts' must be a non-empty list of host names .*, got a string \('algo-1'\)"],
    ),
    (
        "resourceconfig.json",
        '{"current_host": 1, "hosts": ["algo-1"]}',
        [r"resourceconfig\.json: 'current_host' must be a host name .*, got a number \(1\)"],
    ),
    (
        "inputdataconfig.json",
        "{'train': {}}",
        [
            r"inputdataconfig\.json is not valid JSON: Expecting property name enclosed in double quotes at line 1, "
            r"column 2"
        ],
    ),
    ("inputdataconfig.json", "null", [r"inputdataconfig\.json must hold a JSON object .*, but it holds null"]),
    (
        "inputdataconfig.json",
        '{"train": "File"}',
        [r"inputdataconfig\.json: channel 'train' must map to an object such as .*, got a string \('File'\)"],
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "phrases"), CASES, ids=[f"{c[0].split('.')[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_a_malformed_config_file_is_a_user_error_naming_it(
    tmp_path: Path, name: str, content: str, phrases: list[str]
) -> None:
    tree = make_job_tree(tmp_path / "ml")
    (tree.base / "input" / "config" / name).write_text(content)
    run = run_rlrt(["train"], base=tree.base, timeout=120)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "Framework error" not in run.stderr, run.stderr[-3000:]
    failure = tree.failure.read_text()
    for phrase in phrases:
        assert re.search(phrase, failure), (phrase, failure)
    if "hyperparameter '" not in failure and "training_iteration' must" not in failure:
        assert str(tree.base / "input" / "config" / name) in failure, failure
