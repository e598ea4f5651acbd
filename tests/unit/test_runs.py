"""Telling runs apart: the command that resumes a stopped job."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.train.job import resume_command

TREE = Path("/work/rlrt-jobs/cartpole-ppo-s3-20260101-120000")


@pytest.mark.parametrize("command, expected", [
    ([], f"rlrt train --base-dir {TREE}"),
    (["train", "--seed", "3", "-n", "1000"], f"rlrt train --seed 3 -n 1000 --base-dir {TREE}"),
    # --force would start the tree afresh, and the tree is named last, whatever named one before
    (["train", "--force", "--base-dir", "old", "--set", "rl.training.config.lr=0.001"],
     f"rlrt train --set rl.training.config.lr=0.001 --base-dir {TREE}"),
    (["train", "--base-dir=old", "--forc", "--ba", "old2", "--env", "CartPole-v1"],
     f"rlrt train --env CartPole-v1 --base-dir {TREE}"),
    (["train", "--set", "rl.training.config.env_config.name=two words"],
     f"rlrt train --set 'rl.training.config.env_config.name=two words' --base-dir {TREE}"),
])
def test_the_resume_command_is_the_same_command_in_the_same_tree(command: list[str], expected: str) -> None:
    assert resume_command(command, TREE) == expected
