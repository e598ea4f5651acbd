"""The job's configuration files are checked before sagemaker-training reads them: each mistake a UserError naming
the file (with the line and column of a syntax error)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import make_job_tree
from runtime.errors import UserError
from runtime.job.config_files import read_config_files, read_hyperparameters_file, read_json_object
from runtime.job.environment import load_environment, prepare_local_tree


def test_a_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "hyperparameters.json"
    path.write_text('{\n  "a": "1",\n  "b": tru\n}')
    with pytest.raises(UserError) as error:
        read_json_object(path)
    assert str(error.value) == f"{path} is not valid JSON: Expecting value at line 3, column 8: '\"b\": tru'."


@pytest.mark.parametrize(
    ("content", "kind"),
    [("[1, 2]", "an array"), ("3", "a number (3)"), ("null", "null"), ('"x"', "a string ('x')"), ("true", "a boolean")],
)
def test_json_that_is_not_an_object_names_the_file(tmp_path: Path, content: str, kind: str) -> None:
    path = tmp_path / "resourceconfig.json"
    path.write_text(content)
    with pytest.raises(UserError, match=f"must hold a JSON object .*, but it holds {re.escape(kind)}"):
        read_json_object(path)


def test_an_empty_or_binary_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("  \n")
    with pytest.raises(UserError, match="a.json is empty"):
        read_json_object(tmp_path / "a.json")
    (tmp_path / "b.json").write_bytes(b"{\xff}")
    with pytest.raises(UserError, match="b.json is not UTF-8 text"):
        read_json_object(tmp_path / "b.json")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("resourceconfig.json", {"current_host": "algo-1", "hosts": "algo-1"}, "'hosts' must be a non-empty list"),
        ("resourceconfig.json", {"current_host": "algo-1", "hosts": []}, "'hosts' must be a non-empty list"),
        ("resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1", 2]}, r"got \[\"algo-1\", 2\]"),
        (
            "resourceconfig.json",
            {"current_host": ["algo-1"], "hosts": ["algo-1"]},
            "'current_host' must be a host name",
        ),
        ("inputdataconfig.json", {"train": ["File"]}, "channel 'train' must map to an object"),
    ],
)
def test_wrong_types_are_named(tmp_path: Path, name: str, content: object, message: str) -> None:
    tree = make_job_tree(tmp_path / "ml")
    (tree.base / "input" / "config" / name).write_text(json.dumps(content))
    with pytest.raises(UserError, match=message) as error:
        load_environment(tree.base)
    assert str(error.value).startswith(str(tree.base / "input" / "config" / name))


def test_well_formed_files_pass(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"a": 1}, hosts=("algo-1", "algo-2"))
    tree.channel("train")
    files = read_config_files(tree.base / "input" / "config")
    assert files["resourceconfig.json"]["hosts"] == ["algo-1", "algo-2"]
    assert files["inputdataconfig.json"] == {"train": {"TrainingInputMode": "File"}}
    assert load_environment(tree.base).hyperparameters == {"a": 1}


def test_a_local_tree_with_a_broken_hyperparameters_file(tmp_path: Path) -> None:
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text("{,}")
    with pytest.raises(UserError, match=r"hyperparameters.json is not valid JSON: .* line 1, column 2"):
        prepare_local_tree(tmp_path, {"a": 1})


def test_a_rerun_says_where_each_value_came_from_and_the_command_line_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """a rerun in a local tree with other --set values: the command line wins over what the earlier run
    stored, and one block names each value's source; a rerun with the same values prints nothing more."""
    from runtime.job.setup import open_job

    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))  # open_job points it at the tree: restored after
    root = tmp_path / "job"
    first = open_job(root, True, {"rl.training.config.lr": 0.001, "rl.training.stop.training_iteration": 2})
    assert "hyperparameters:" not in capsys.readouterr().out  # a new tree: nothing to compare with
    assert first.hyperparameters["rl.training.config.lr"] == 0.001
    same = open_job(root, True, {"rl.training.config.lr": 0.001, "rl.training.stop.training_iteration": 2})
    assert "hyperparameters:" not in capsys.readouterr().out and same.hyperparameters == first.hyperparameters
    again = open_job(root, True, {"rl.training.config.lr": 0.0005})
    out = capsys.readouterr().out
    path = root / "input" / "config" / "hyperparameters.json"
    assert again.hyperparameters["rl.training.config.lr"] == 0.0005  # the command line wins
    assert again.hyperparameters["rl.training.stop.training_iteration"] == 2  # kept: the rerun resumes that job
    assert (
        f"rlrt: hyperparameters: this command's differ from those {path} keeps from an earlier run; this job "
        "uses:\n  rl.training.config.lr=0.0005 (this command, replacing 0.001)\n"
        "  rl.training.stop.training_iteration=2 (that file)\n"
    ) in out
    assert json.loads(json.loads(path.read_text())["rl.training.config.lr"]) == 0.0005


def test_a_sagemaker_tree_with_set_values_names_them_beside_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree SageMaker or docker made: --set is layered on top of its hyperparameters.json (the file is kept), and
    the values that differ are named; the SDK's own sagemaker_* keys are not listed."""
    from runtime.job.setup import open_job

    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))  # open_job points it at the tree: restored after
    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.lr": 0.001, "sagemaker_program": "train.py"})
    job = open_job(tree.base, False, {"rl.training.config.lr": 0.01, "rl.training.config.gamma": 0.9})
    out = capsys.readouterr().out
    assert (
        job.hyperparameters["rl.training.config.lr"] == 0.01 and job.hyperparameters["sagemaker_program"] == "train.py"
    )
    assert "  rl.training.config.lr=0.01 (this command, replacing 0.001)\n" in out
    assert "  rl.training.config.gamma=0.9 (this command)\n" in out and "sagemaker_program" not in out
    assert (
        json.loads(
            json.loads((tree.base / "input" / "config" / "hyperparameters.json").read_text())["rl.training.config.lr"]
        )
        == 0.001
    )
    open_job(tree.base, False, {})
    assert "hyperparameters:" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, text",
    [
        ("ppo.yml", "CartPole-v1:\n  n_envs: 8\n  n_timesteps: !!float 1e5\n  policy: 'MlpPolicy'\n"),  # RL Zoo's
        ("my-preset.txt", "env: CartPole-v1\nalgorithm: PPO\nstop: {training_iteration: 2}\n"),  # YAML by content
    ],
)
def test_a_yaml_file_given_as_hyperparameters_points_to_preset(tmp_path: Path, name: str, text: str) -> None:
    """`--hyperparameters ppo.yml` said only "not valid JSON"; a preset or a Zoo file is what `--preset FILE`
    takes."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError) as error:
        read_hyperparameters_file(path)
    assert f"{path} is YAML, and --hyperparameters takes a JSON object" in str(error.value)
    assert str(error.value).endswith(f"given with --preset: rlrt train --preset {path}")


def test_a_json_file_with_a_syntax_error_is_named_as_json(tmp_path: Path) -> None:
    path = tmp_path / "best.json"
    path.write_text('{"rl.training.config.lr": 0.1,}')  # YAML would read it; it is meant as JSON
    with pytest.raises(UserError, match=r"is not valid JSON: .* line 1, column 31"):
        read_hyperparameters_file(path)
