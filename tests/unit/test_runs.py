"""Telling runs apart and comparing them: the command that resumes a stopped job, `rlrt plot`'s curves over seeds,
and an intermediate checkpoint of a tree as the model `rlrt evaluate --checkpoint` plays."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import UserError
from runtime.evaluate.trees import checkpoint_model, find_checkpoint, tree_of
from runtime.names import STATE_FILE
from runtime.runs.plot import aggregate, plot_runs, read_run
from runtime.train.job import resume_command
from runtime.train.manifest import write_manifest

TREE = Path("/work/rlrt-jobs/cartpole-ppo-s3-20260101-120000")


@pytest.mark.parametrize(
    "command, expected",
    [
        ([], f"rlrt train --base-dir {TREE}"),
        (["train", "--seed", "3", "-n", "1000"], f"rlrt train --seed 3 -n 1000 --base-dir {TREE}"),
        # --force would start the tree afresh, and the tree is named last, whatever named one before
        (
            ["train", "--force", "--base-dir", "old", "--set", "rl.training.config.lr=0.001"],
            f"rlrt train --set rl.training.config.lr=0.001 --base-dir {TREE}",
        ),
        (
            ["train", "--base-dir=old", "--forc", "--ba", "old2", "--env", "CartPole-v1"],
            f"rlrt train --env CartPole-v1 --base-dir {TREE}",
        ),
        (
            ["train", "--set", "rl.training.config.env_config.name=two words"],
            f"rlrt train --set 'rl.training.config.env_config.name=two words' --base-dir {TREE}",
        ),
    ],
)
def test_the_resume_command_is_the_same_command_in_the_same_tree(command: list[str], expected: str) -> None:
    assert resume_command(command, TREE) == expected


def _tree(root: Path, name: str, seed: int | None, rows: list[tuple[float, float]], lr: float = 0.004) -> Path:
    tree = root / name
    (tree / "output" / "intermediate").mkdir(parents=True)
    (tree / "input" / "config").mkdir(parents=True)
    (tree / "input" / "config" / "hyperparameters.json").write_text("{}")
    lines = ["training_iteration,timesteps_total,time_total_s,episode_reward_mean"]
    lines += [f"{i},{x},{i * 2.0},{y}" for i, (x, y) in enumerate(rows, 1)]
    (tree / "output" / "intermediate" / "progress.csv").write_text("\n".join(lines) + "\n")
    config = {
        "preset": "cartpole-ppo",
        "env": "CartPole-v1",
        "algorithm": "PPO",
        "backend": None,
        "config": {"lr": lr},
        "env_config": {},
        "seed": seed,
        "stop": {"timesteps_total": 1000 * (seed or 1)},
    }
    (tree / "output" / "intermediate" / "config.json").write_text(json.dumps(config))
    return tree


def test_seeds_of_one_configuration_are_one_line_with_their_min_max_band(tmp_path: Path) -> None:
    seeds = [
        _tree(tmp_path, "s1", 1, [(100, 10.0), (200, 20.0), (300, 30.0)]),
        _tree(tmp_path, "s2", 2, [(100, 20.0), (200, 40.0)]),
        _tree(tmp_path, "s3", 3, [(150, 15.0), (250, 45.0), (350, 0.0)]),
    ]
    other = _tree(tmp_path, "lr", None, [(100, 5.0), (200, 6.0)], lr=0.001)
    groups = aggregate([read_run(tree, "timesteps_total") for tree in [*seeds, other]])
    assert [g.label for g in groups] == [
        "cartpole-ppo (CartPole-v1, PPO) lr=0.004",
        "cartpole-ppo (CartPole-v1, PPO) lr=0.001",
    ]
    three, one = groups
    # Every x any seed reports, within the range all three reached (150 to 200), each seed interpolated there.
    assert three.x == (150.0, 200.0) and three.count == (3, 3)
    assert three.mean == pytest.approx(((15 + 30 + 15) / 3, (20 + 40 + 30) / 3))
    assert (three.low, three.high) == ((15.0, 20.0), (30.0, 40.0))
    assert one.x == (100.0, 200.0) and one.mean == (5.0, 6.0)

    output, table = tmp_path / "runs.png", tmp_path / "runs.csv"
    assert plot_runs([*seeds, other], output, "steps", table) == 0
    assert output.read_bytes()[:4] == b"\x89PNG" and not list(tmp_path.glob("*.tmp.png"))
    rows = list(csv.DictReader(table.open()))
    assert [(r["configuration"], r["timesteps_total"], r["runs"], r["episode_reward_mean_max"]) for r in rows] == [
        ("cartpole-ppo (CartPole-v1, PPO) lr=0.004", "150", "3", "30"),
        ("cartpole-ppo (CartPole-v1, PPO) lr=0.004", "200", "3", "40"),
        ("cartpole-ppo (CartPole-v1, PPO) lr=0.001", "100", "1", "5"),
        ("cartpole-ppo (CartPole-v1, PPO) lr=0.001", "200", "1", "6"),
    ]


def test_the_figure_says_what_its_band_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    from runtime.runs import plot

    drawn: dict[str, Any] = {}
    monkeypatch.setattr(
        plot,
        "save_figure",
        lambda fig, out, title: drawn.update(
            legend=[t.get_text() for t in fig.axes[0].get_legend().get_texts()], xlabel=fig.axes[0].get_xlabel()
        ),
    )
    trees = [_tree(tmp_path, f"s{seed}", seed, [(1, 1.0), (2, 2.0)]) for seed in (1, 2)]
    plot.plot_runs(trees, tmp_path / "x.png", "time")
    plt.close("all")
    assert drawn == {
        "legend": ["cartpole-ppo (CartPole-v1, PPO): mean of 2 seeds", "min - max of the 2 seeds"],
        "xlabel": "training time (s)",
    }


def test_a_path_that_is_not_a_job_tree_is_named_with_what_to_give(tmp_path: Path) -> None:
    jobs = tmp_path / "rlrt-jobs"
    _tree(jobs, "cartpole-ppo-s1-20260101-120000", 1, [(1, 1.0)])
    with pytest.raises(UserError, match=rf"{jobs} is not a job tree .*holds job trees .*rlrt plot {jobs}/\*"):
        read_run(jobs, "timesteps_total")
    with pytest.raises(
        UserError,
        match=rf"{tmp_path / 'nope'} is not a job tree \(no such folder\): give the "
        "folders `rlrt train` made",
    ):
        read_run(tmp_path / "nope", "timesteps_total")
    empty = _tree(tmp_path, "empty", 1, [])
    with pytest.raises(UserError, match="None of the job trees has a finished episode"):
        plot_runs([empty], tmp_path / "x.png")


def _trained_tree(root: Path, framework: str = "rllib") -> Path:
    """A tree as a job leaves it: model/ (a copy of its last checkpoint) and checkpoints/checkpoint_00000N."""
    tree = root / "tree"
    (tree / "input" / "config").mkdir(parents=True)
    (tree / "input" / "config" / "hyperparameters.json").write_text("{}")
    for iteration in (1, 2):
        checkpoint = tree / "checkpoints" / f"checkpoint_{iteration:06d}"
        checkpoint.mkdir(parents=True)
        (checkpoint / "model.d3").write_text(f"weights of iteration {iteration}")
        state = {
            "training_iteration": iteration,
            "timesteps_total": 400 * iteration,
            "algorithm": "PPO",
            "env": "CartPole-v1",
        }
        (checkpoint / STATE_FILE).write_text(json.dumps(state))
        write_manifest(checkpoint)
    (tree / "model" / "checkpoint").mkdir(parents=True)
    extra = {"model_file": "checkpoint/model.d3"} if framework == "d3rlpy" else {}
    metadata = {
        "env": "CartPole-v1",
        "algorithm": "PPO",
        "framework": framework,
        "checkpoint": "checkpoint",
        "serving": {"onnx": "policy.onnx"},
        "training": {"training_iteration": 2},
        **extra,
    }
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
