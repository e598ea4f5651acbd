"""`--algo` in any case (RL Zoo's `--algo ppo`, RLlib's `PPO`) trains the same algorithm and reports the same
numbers: the job resolves the library's own name once, and model/config.yaml records it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_rlrt
from tests.jobs.test_space_defaults_jobs import assert_outputs_exist
from tests.jobs.test_train import assert_no_noise

TINY = ["--set", "rl.training.stop.training_iteration=1", "--set", "record_video_every=0"]
PPO_TINY = [
    "--env",
    "CartPole-v1",
    *TINY,
    "--set",
    "rl.training.config.train_batch_size_per_learner=256",
    "--set",
    "rl.training.config.num_envs_per_env_runner=2",
    "--set",
    "rl.training.config.num_epochs=1",
    "--set",
    "rl.training.config.minibatch_size=128",
]
PPO_FIGURES = ("kl", "clip_fraction", "entropy", "policy_loss", "value_loss")


def train(tmp_path: Path, name: str, args: list[str]) -> tuple[dict[str, str], dict]:
    """Train a job in ``tmp_path/name``: its last progress.csv row and its model/config.yaml; what its closing
    "rlrt: outputs:" lines name is there."""
    job = tmp_path / name
    run = run_rlrt(["train", "--base-dir", str(job), *args], cwd=tmp_path, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert_outputs_exist(run.stdout + run.stderr)
    assert_no_noise(run)  # the driver's lines and those of remote env runners (APPO's)
    with (job / "output" / "intermediate" / "progress.csv").open() as handle:
        row = list(csv.DictReader(handle))[-1]
    return row, yaml.safe_load((job / "model" / "config.yaml").read_text())


def finite(row: dict[str, str], column: str) -> bool:
    return column in row and math.isfinite(float(row[column]))


def test_ppo_in_any_case_reports_ppos_figures(tmp_path: Path) -> None:
    columns = None
    for spelling in ("ppo", "PPO", "Ppo"):
        row, config = train(tmp_path, spelling, ["--algo", spelling, *PPO_TINY])
        assert config["algorithm"] == "PPO", spelling
        assert all(finite(row, figure) for figure in PPO_FIGURES), (spelling, row)
        assert float(row["kl"]) > 0.0, (spelling, row)  # rlrt's learner's KL: a trained policy moved
        assert columns is None or columns == sorted(row), spelling
        columns = sorted(row)
        # A normal job: episodes ended, the learning curve is drawn and the summary names it.
        assert (
            int(row["episodes_total"]) > 0
            and (tmp_path / spelling / "output" / "intermediate" / "learning_curve.png").is_file()
        )


# The off-policy jobs sample 100 steps and train a few small batches on them (the table's replay ratios would
# train ~25-800 batches).
OFF_POLICY_TINY = [
    "--set",
    "rl.training.config.min_sample_timesteps_per_iteration=100",
    "--set",
    "rl.training.config.num_steps_sampled_before_learning_starts=0",
    "--set",
    "rl.training.config.train_batch_size_per_learner=32",
    "--set",
    "rl.training.config.training_intensity=1",
]


@pytest.mark.parametrize(
    ("spelling", "canonical", "env", "figure", "extra"),
    [
        ("dqn", "DQN", "CartPole-v1", "value_loss", OFF_POLICY_TINY),
        ("sac", "SAC", "Pendulum-v1", "value_loss", OFF_POLICY_TINY),
        # APPO's learner trains beside the sampling: its first results come with the second iteration.
        (
            "appo",
            "APPO",
            "CartPole-v1",
            "policy_loss",
            [
                "--set",
                "rl.training.config.min_time_s_per_iteration=1",
                "--set",
                "rl.training.config.num_envs_per_env_runner=2",
                "--set",
                "rl.training.config.rollout_fragment_length=64",
                "--set",
                "rl.training.config.train_batch_size_per_learner=128",
            ],
        ),
    ],
)
def test_other_algorithms_in_lower_case_train_under_their_rllib_names(
    tmp_path: Path, spelling: str, canonical: str, env: str, figure: str, extra: list[str]
) -> None:
    iterations = 2 if canonical == "APPO" else 1
    row, config = train(
        tmp_path,
        spelling,
        [
            "--algo",
            spelling,
            "--env",
            env,
            *extra,
            "--set",
            f"rl.training.stop.training_iteration={iterations}",
            "--set",
            "record_video_every=0",
        ],
    )
    assert config["algorithm"] == canonical
    assert finite(row, figure), row
