"""Telling runs apart: the command that resumes a stopped job, and an intermediate checkpoint of a tree as the model
`rlrt evaluate --checkpoint` plays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.evaluate.trees import checkpoint_model, find_checkpoint, tree_of
from runtime.names import STATE_FILE
from runtime.train.job import resume_command
from runtime.train.manifest import write_manifest

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


def _trained_tree(root: Path, framework: str = "rllib") -> Path:
    """A tree as a job leaves it: model/ (a copy of its last checkpoint) and checkpoints/checkpoint_00000N."""
    tree = root / "tree"
    (tree / "input" / "config").mkdir(parents=True)
    (tree / "input" / "config" / "hyperparameters.json").write_text("{}")
    for iteration in (1, 2):
        checkpoint = tree / "checkpoints" / f"checkpoint_{iteration:06d}"
        checkpoint.mkdir(parents=True)
        (checkpoint / "model.d3").write_text(f"weights of iteration {iteration}")
        state = {"training_iteration": iteration, "timesteps_total": 400 * iteration, "algorithm": "PPO",
                 "env": "CartPole-v1"}
        (checkpoint / STATE_FILE).write_text(json.dumps(state))
        write_manifest(checkpoint)
    (tree / "model" / "checkpoint").mkdir(parents=True)
    extra = {"model_file": "checkpoint/model.d3"} if framework == "d3rlpy" else {}
    metadata = {"env": "CartPole-v1", "algorithm": "PPO", "framework": framework, "checkpoint": "checkpoint",
                "serving": {"onnx": "policy.onnx"}, "training": {"training_iteration": 2}, **extra}
    (tree / "model" / "metadata.json").write_text(json.dumps(metadata))
    return tree


def test_a_checkpoint_plays_as_its_trees_model_with_the_checkpoints_own_files(tmp_path: Path) -> None:
    tree = _trained_tree(tmp_path, "d3rlpy")
    first = tree / "checkpoints" / "checkpoint_000001"
    assert tree_of(tree / "model") == tree_of(first) == tree_of(tree) == tree and tree_of(tmp_path) is None
    assert find_checkpoint("1", tree) == first and find_checkpoint(str(first), None) == first
    model_dir, metadata = checkpoint_model(first, tree)
    assert model_dir == tree / "model"  # its config.json gives the env_config; its source/ a script's environments
    assert metadata["checkpoint"] == str(first) and metadata["model_file"] == str(first / "model.d3")
    assert metadata["training"]["training_iteration"] == 1 and metadata["training"]["timesteps_total"] == 400
    assert "serving" not in metadata  # the final policy's exports: never played in the checkpoint's place
    with pytest.raises(UserError, match=r"holds no checkpoint of iteration 3 \(it holds iterations: 1, 2;"):
        find_checkpoint("3", tree)
    with pytest.raises(UserError, match="--model must name the job tree"):
        find_checkpoint("1", None)


def test_a_checkpoint_of_another_job_or_damaged_is_refused(tmp_path: Path) -> None:
    tree = _trained_tree(tmp_path)
    first = tree / "checkpoints" / "checkpoint_000001"
    metadata = json.loads((tree / "model" / "metadata.json").read_text())
    (tree / "model" / "metadata.json").write_text(json.dumps({**metadata, "env": "Acrobot-v1"}))
    with pytest.raises(UserError, match="is not of the model in .*environment CartPole-v1 \\(the model: Acrobot-v1\\)"):
        checkpoint_model(first, tree)
    (first / "model.d3").write_text("changed")
    with pytest.raises(UserError, match="is damaged \\(model.d3 truncated: 7 of 22 bytes\\): evaluate another"):
        checkpoint_model(first, tree)
