"""`rlrt evaluate` (the seeds' evaluate-ray.py job) and rollout videos (training and evaluation)."""

from __future__ import annotations

import re

import pytest

from tests.trained_models import cartpole_model, reacher_model, tf_env, tf_python, training_output  # noqa: F401

EPISODE = re.compile(r"^Episode reward: (-?[0-9.eE+-]+)\. Episode steps: (\d+)$", re.M)
TESTING = re.compile(r"^Testing>.*Total reward=(.*?),", re.M)  # Coach's metric definition
MEAN = re.compile(r"^episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)$", re.M)  # the SDK's regex


@pytest.mark.parametrize("command", ["serve", "transform", "evaluate", "export"])
def test_every_command_has_help_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from runtime.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "example" in capsys.readouterr().out
