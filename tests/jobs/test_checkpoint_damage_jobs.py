"""Checkpoints that survive damage, in real jobs: a retry of a job whose newest checkpoint came back partial from S3
resumes from the newest intact one (RLlib PPO on CartPole, d3rlpy BCQ); none intact, or another preset's checkpoint,
ends as a user error that says how to start fresh."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Callable

import pytest

from runtime.offline.collect import collect
from runtime.train.manifest import write_manifest
from tests.conftest import JobTree, make_job_tree, run_rlrt

PPO = {
    "rl.training.stop.training_iteration": 2,
    "rl.training.checkpoint_freq": 1,
    "rl.training.config.train_batch_size": 200,
    "rl.training.config.sgd_minibatch_size": 100,
    "rl.training.config.num_sgd_iter": 1,
    "rl.training.config.num_envs_per_worker": 2,
}
BCQ = {
    "preset": "cartpole-bcq",
    "evaluate_episodes": 1,
    "rl.training.checkpoint_freq": 1,
    "rl.training.config.n_steps_per_epoch": 20,
    "rl.training.config.batch_size": 32,
    "rl.training.config.evaluation_episodes": 1,
    "rl.training.config.fqe_steps": 0,
    "rl.training.config.hidden_units": [16],
    "rl.training.stop.epochs": 2,
    "seed": 1,
}


def iterations(stdout: str) -> list[int]:
    return [int(x) for x in re.findall(r"^training_iteration: (\d+)$", stdout, re.M)]


def largest_file(checkpoint: Path) -> Path:
    """The framework's biggest file in ``checkpoint`` (the weights or the optimizer state)."""
    files = [p for p in checkpoint.rglob("*") if p.is_file() and not p.name.startswith("rlrt_")]
    return max(files, key=lambda p: p.stat().st_size)


def truncate(checkpoint: Path) -> str:
    path = largest_file(checkpoint)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path.relative_to(checkpoint).as_posix()


def empty(checkpoint: Path) -> str:
    shutil.rmtree(checkpoint)
    checkpoint.mkdir()
    return "empty folder"


def remove(checkpoint: Path) -> str:
    path = largest_file(checkpoint)
    path.unlink()
    return f"{path.relative_to(checkpoint).as_posix()} missing"


def garbage_state(checkpoint: Path) -> str:
    (checkpoint / "rlrt_state.json").write_text("\x00\x17garbage{")
    write_manifest(checkpoint)  # written consistently: only reading the state shows it
    return "rlrt_state.json unreadable"


def copy_tree(source: JobTree, target: Path) -> JobTree:
    shutil.copytree(source.base, target)
    return JobTree(target)


def assert_user_error(run, *phrases: str) -> str:
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    for phrase in phrases:
        assert phrase in run.stderr, (phrase, run.stderr[-3000:])
    return run.stderr


@pytest.fixture(scope="module")
def ppo_job(tmp_path_factory: pytest.TempPathFactory) -> JobTree:
    tree = make_job_tree(tmp_path_factory.mktemp("ppo") / "ml", PPO)
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in tree.checkpoints.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]
    return tree


@pytest.mark.slow
@pytest.mark.parametrize("damage", [truncate, empty], ids=["truncated", "empty-folder"])
def test_a_ppo_retry_resumes_from_the_newest_intact_checkpoint(
    ppo_job: JobTree, tmp_path: Path, damage: Callable[[Path], str]
) -> None:
    tree = copy_tree(ppo_job, tmp_path / "ml")
    named = damage(tree.checkpoints / "checkpoint_000002")
    tree.write_hyperparameters({**PPO, "rl.training.stop.training_iteration": 3})
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    warning = re.search(
        r"^rlrt: warning: checkpoint checkpoint_000002 is damaged \((.*)\); moved aside to "
        r"checkpoint_000002\.damaged; resuming from the older checkpoint_000001$",
        run.stdout,
        re.M,
    )
    assert warning and named in warning.group(1), run.stdout[-3000:]
    assert f"resumed from {tree.checkpoints / 'checkpoint_000001'} (iteration 1," in run.stdout
    assert iterations(run.stdout) == [2, 3]
    assert (tree.checkpoints / "checkpoint_000002.damaged").is_dir()
    assert {"checkpoint_000002", "checkpoint_000003"} <= {p.name for p in tree.checkpoints.iterdir()}
    assert not tree.failure.exists()


@pytest.mark.slow
def test_ppo_with_no_intact_checkpoint_fails_clearly(ppo_job: JobTree, tmp_path: Path) -> None:
    tree = copy_tree(ppo_job, tmp_path / "ml")
    first = truncate(tree.checkpoints / "checkpoint_000001")
    empty(tree.checkpoints / "checkpoint_000002")
    run = run_rlrt(["train"], base=tree.base)
    assert_user_error(
        run,
        "No intact checkpoint to resume from",
        f"checkpoint_000001 ({first} truncated",
        "checkpoint_000002 (empty folder)",
        "To start fresh, empty",
    )
    assert "No intact checkpoint" in tree.failure.read_text()
    assert sorted(p.name for p in tree.checkpoints.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]


@pytest.fixture(scope="module")
def bcq_job(tmp_path_factory: pytest.TempPathFactory) -> JobTree:
    data = tmp_path_factory.mktemp("data") / "cartpole.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=2, output=data, seed=0, progress=False)
    tree = make_job_tree(tmp_path_factory.mktemp("bcq") / "ml", BCQ)
    shutil.copy(data, tree.channel("train") / "rollouts.csv")
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in tree.checkpoints.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]
    return tree


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage", [remove, garbage_state, truncate], ids=["missing-file", "garbage-state", "truncated"]
)
def test_a_bcq_retry_resumes_from_the_newest_intact_checkpoint(
    bcq_job: JobTree, tmp_path: Path, damage: Callable[[Path], str]
) -> None:
    tree = copy_tree(bcq_job, tmp_path / "ml")
    named = damage(tree.checkpoints / "checkpoint_000002")
    tree.write_hyperparameters({**BCQ, "rl.training.stop.epochs": 3})
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(
        rf"^rlrt: warning: checkpoint checkpoint_000002 is damaged \(.*{re.escape(named)}.*\); moved "
        "aside to checkpoint_000002.damaged",
        run.stdout,
        re.M,
    ), run.stdout[-3000:]
    assert "(epoch 1, 20 gradient steps)" in run.stdout
    assert iterations(run.stdout) == [2, 3]
    assert re.findall(r"^timesteps_total: (\d+)$", run.stdout, re.M) == ["40", "60"]


@pytest.mark.slow
def test_another_presets_checkpoint_is_refused(ppo_job: JobTree, bcq_job: JobTree, tmp_path: Path) -> None:
    tree = copy_tree(bcq_job, tmp_path / "ml")
    shutil.rmtree(tree.checkpoints)
    shutil.copytree(ppo_job.checkpoints, tree.checkpoints)
    run = run_rlrt(["train"], base=tree.base)
    stderr = assert_user_error(
        run,
        "was written by another job (cartpole-ppo)",
        "algorithm PPO (this job: DiscreteBCQ)",
        "To start fresh, empty",
    )
    assert "damaged" not in stderr
    assert sorted(p.name for p in tree.checkpoints.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]
    state = json.loads((tree.checkpoints / "checkpoint_000002" / "rlrt_state.json").read_text())
    assert state["observation_space"] == "Box(4,)" and state["action_space"] == "Discrete(2)"
