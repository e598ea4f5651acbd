"""``rlrt collect --env-config`` gets the check ``rlrt train`` makes of the env_config keys rlrt reads itself
(before: ``{"max_episode_steps": -1}`` was accepted by collect and refused by train)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from runtime.cli import main


@pytest.mark.parametrize("value", ["-1", "0", "2.5", '"many"'])
def test_collect_refuses_the_step_limits_train_refuses(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rollouts.csv"
    code = main(
        [
            "collect",
            "--env",
            "CartPole-v1",
            "--env-config",
            f'{{"max_episode_steps": {value}}}',
            "--num-episodes",
            "1",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert (
        f"--env-config: 'max_episode_steps' must be an integer >= 1 (steps per episode) or null, got {value}"
    ) in err


def test_collect_takes_a_step_limit_train_takes(tmp_path: Path) -> None:
    out = tmp_path / "rollouts.csv"
    assert (
        main(
            [
                "collect",
                "--env",
                "CartPole-v1",
                "--env-config",
                '{"max_episode_steps": 5}',
                "--num-episodes",
                "1",
                "--output",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    steps = Counter(row["episode_id"] for row in csv.DictReader(out.open()))
    assert set(steps.values()) == {5}  # every CartPole episode cut at 5 steps (a random policy lasts ~20)
