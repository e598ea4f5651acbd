"""Inputs past what the job or command can take, through the real commands: each ends as a UserError (exit 2) that
names the culprit, before anything starts, and never as "Framework error" (docs/RELIABILITY.md)."""

from __future__ import annotations

import codecs
import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_job_tree, run_rlrt

SMALL = [
    "--set",
    "rl.training.stop.training_iteration=1",
    "--set",
    "rl.training.config.train_batch_size_per_learner=200",
    "--set",
    "rl.training.config.minibatch_size=100",
    "--set",
    "rl.training.config.num_epochs=1",
]


@pytest.fixture(scope="module")
def cartpole_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-iteration CartPole PPO model folder (observations of shape (4,), two discrete actions)."""
    tree = make_job_tree(tmp_path_factory.mktemp("trained") / "ml")
    run = run_rlrt(["train", *SMALL], base=tree.base, timeout=600, RLRT_TF_PYTHON="")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return tree.model


def test_a_set_key_that_is_not_utf8_is_named_in_the_failure_file_within_seconds(tmp_path: Path) -> None:
    """A shell whose locale is not UTF-8 hands ``--set`` the byte 0xff (a surrogate escape in Python): the failure
    file was left empty (writing it raised UnicodeEncodeError); now it names the key, before Ray starts."""
    tree = make_job_tree(tmp_path / "ml")
    started = time.monotonic()
    run = run_rlrt(["train", "--set", "rl.training.config.\udcff=1"], base=tree.base, timeout=120)
    assert run.returncode == 2, run.stderr[-2000:]
    assert time.monotonic() - started < 30, "refused by the quick check, before RLlib loads and Ray starts"
    failure = tree.failure.read_text(encoding="utf-8")
    assert "'rl.training.config.\\xff' is not UTF-8 text" in failure, failure
    assert "Framework error" not in run.stderr and "Traceback" not in run.stderr


def test_dqn_on_continuous_actions_is_refused_before_training(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"rl.training.run": "DQN", "rl.training.env": "Pendulum-v1"})
    run = run_rlrt(["train"], base=tree.base, timeout=300)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "DQN needs discrete actions; Pendulum-v1 has Box actions" in tree.failure.read_text()
    assert "use PPO or SAC" in tree.failure.read_text() and "iteration 1" not in run.stdout


def test_collect_names_an_unexpected_env_config_key_and_a_model_of_another_shape(
    cartpole_model: Path, tmp_path: Path
) -> None:
    wrong_key = run_rlrt(
        [
            "collect",
            "--env",
            "CartPole-v1",
            "--env-config",
            '{"foo": 1}',
            "--num-episodes",
            "1",
            "--output",
            str(tmp_path / "a.csv"),
        ],
        timeout=120,
    )
    assert wrong_key.returncode == 2, wrong_key.stderr[-2000:]
    assert "CartPole-v1 does not take the --env-config key 'foo'" in wrong_key.stderr

    other_shape = run_rlrt(
        [
            "collect",
            "--env",
            "Acrobot-v1",
            "--model",
            str(cartpole_model),
            "--num-episodes",
            "1",
            "--output",
            str(tmp_path / "b.csv"),
        ],
        timeout=120,
    )
    assert other_shape.returncode == 2, other_shape.stderr[-2000:]
    assert "takes observations of shape (4,); Acrobot-v1's are (6,)" in other_shape.stderr
    assert "Framework error" not in wrong_key.stderr + other_shape.stderr


def test_transform_reads_a_csv_that_starts_with_a_byte_order_mark(cartpole_model: Path, tmp_path: Path) -> None:
    """Excel saves "CSV UTF-8" with a byte-order mark; Batch Transform's file is read past it."""
    rows = np.random.default_rng(0).standard_normal((3, 4)).round(4)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "states.csv").write_bytes(
        codecs.BOM_UTF8 + "".join(",".join(map(str, row)) + "\n" for row in rows.tolist()).encode()
    )
    done = run_rlrt(
        [
            "transform",
            "--model",
            str(cartpole_model),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
            "--content-type",
            "text/csv",
        ],
        base=tmp_path / "job",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (tmp_path / "out" / "states.csv.out").read_text().splitlines()
    assert len(lines) == 3 and all(len(json.loads(line)["predictions"][0]) == 2 for line in lines), lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "--seed must be a whole number from 0 to 2**63 - 1, got -1."),  # was ValueError
        (["--num-envs", "100000000000000000000"], "--num-envs must be 1-10,000, got 100000000000... (21 digits)."),
        (["--num-episodes", "10000000"], "--num-episodes must be 1-1,000,000, got 10000000."),
        (["--dump-states", "states.jsonl", "--seed", "-5"], "--seed must be a whole number from 0 to 2**63 - 1"),
    ],
)
def test_collect_counts_and_seeds_out_of_range_are_named(args: list[str], message: str, tmp_path: Path) -> None:
    """Before: a negative seed ended as "Framework error: ValueError: expected non-negative integer"; a 21-digit
    --num-envs built environments until the process was killed."""
    started = time.monotonic()
    run = run_rlrt(
        ["collect", "--num-episodes", "1", "--output", str(tmp_path / "out.csv"), "--no-progress", *args],
        base=tmp_path / "ml",
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 2 and time.monotonic() - started < 60, run.stderr[-2000:]
    assert message in run.stderr and "Traceback" not in run.stderr
    assert message in (tmp_path / "ml" / "output" / "failure").read_text()
    assert not (tmp_path / "out.csv").exists()


def test_a_policy_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """Before: "Framework error: UnicodeDecodeError" for a binary (or UTF-16) --policy-file."""
    policy = tmp_path / "predictions.jsonl.out"
    policy.write_bytes(codecs.BOM_UTF16_LE + '{"predictions": [[0.5, 0.5]]}\n'.encode("utf-16-le"))
    run = run_rlrt(
        [
            "collect",
            "--policy-file",
            str(policy),
            "--num-envs",
            "2",
            "--num-episodes",
            "1",
            "--output",
            str(tmp_path / "out.csv"),
            "--no-progress",
        ],
        base=tmp_path / "ml",
        timeout=120,
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert f"The --policy-file {policy} is not UTF-8 text" in (tmp_path / "ml" / "output" / "failure").read_text()
    assert "Traceback" not in run.stderr
