"""Checkpoints that survive damage: the manifest, falling back to the newest intact checkpoint, moving damaged ones
aside, failing clearly when none is intact, and refusing another job's checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gymnasium import spaces

from runtime.errors import UserError
from runtime.names import MANIFEST_FILE, STATE_FILE
from runtime.train.checkpoints import CheckpointManager, TrainingState, describe_space
from runtime.train.manifest import verify_manifest, write_manifest

JOB = TrainingState(
    preset="cartpole-ppo", algorithm="PPO", env="CartPole-v1", observation_space="Box(4,)", action_space="Discrete(2)"
)


def write(folder: Path) -> None:
    (folder / "weights.bin").write_bytes(b"w" * 100)
    (folder / "sub").mkdir()
    (folder / "sub" / "optimizer.bin").write_bytes(b"o" * 50)


def loads(folder: Path) -> None:
    """A restore that, like pickle, fails on a short file."""
    if len((folder / "weights.bin").read_bytes()) != 100:
        raise EOFError("pickle data was truncated")


def saved(tmp_path: Path, *iterations: int, keep: int = 5) -> CheckpointManager:
    manager = CheckpointManager(tmp_path, keep=keep)
    for i in iterations:
        manager.save(write, TrainingState(**{**JOB.__dict__, "training_iteration": i, "timesteps_total": 10 * i}))
    return manager


def resume(manager: CheckpointManager, restore=loads, expected: TrainingState = JOB) -> tuple[tuple, list[str]]:
    lines: list[str] = []
    found = manager.resume(restore, expected, lines.append)
    return found, lines


def test_the_manifest_lists_every_file_and_verifies(tmp_path: Path) -> None:
    manager = saved(tmp_path, 1)
    folder = manager.latest()
    files = json.loads((folder / MANIFEST_FILE).read_text())["files"]
    assert sorted(files) == [STATE_FILE, "sub/optimizer.bin", "weights.bin"]
    assert files["weights.bin"]["size"] == 100 and len(files["weights.bin"]["sha256"]) == 64
    assert verify_manifest(folder).status == "intact"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda f: (f / "weights.bin").write_bytes(b"w" * 10), "weights.bin truncated: 10 of 100 bytes"),
        (lambda f: (f / "sub" / "optimizer.bin").unlink(), "sub/optimizer.bin missing"),
        (lambda f: (f / "weights.bin").write_bytes(b"x" * 100), "weights.bin changed (sha256 differs)"),
        (lambda f: (f / MANIFEST_FILE).write_text("{not json"), f"{MANIFEST_FILE} unreadable"),
    ],
)
def test_verify_names_what_is_damaged(tmp_path: Path, damage, expected: str) -> None:
    folder = saved(tmp_path, 1).latest()
    damage(folder)
    check = verify_manifest(folder)
    assert check.damaged and any(expected in p for p in check.problems), check


def test_a_folder_without_manifest_is_unverified_and_an_empty_one_damaged(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / STATE_FILE).write_text("{}")
    assert verify_manifest(tmp_path / "old").status == "unverified"
    (tmp_path / "empty").mkdir()
    assert verify_manifest(tmp_path / "empty").problems == ("empty folder",)
    write_manifest(tmp_path / "empty")
    assert verify_manifest(tmp_path / "empty").status == "intact"


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda f: (f / "weights.bin").write_bytes(b"w" * 10), "weights.bin truncated: 10 of 100 bytes"),
        (lambda f: (f / "sub" / "optimizer.bin").unlink(), "sub/optimizer.bin missing"),
        (lambda f: [p.unlink() for p in f.rglob("*") if p.is_file()], "empty folder"),
        # Garbage written consistently: the manifest verifies, the state does not parse.
        (lambda f: ((f / STATE_FILE).write_text("garbage{"), write_manifest(f)), f"{STATE_FILE} unreadable"),
        (
            lambda f: ((f / STATE_FILE).write_text('{"training_iteration": "two"}'), write_manifest(f)),
            "training_iteration is 'two'",
        ),
        # The files verify but the framework cannot load them.
        (lambda f: ((f / "weights.bin").write_bytes(b"w"), write_manifest(f)), "does not load: EOFError"),
    ],
)
def test_a_damaged_newest_falls_back_to_the_older_one(tmp_path: Path, damage, named: str) -> None:
    manager = saved(tmp_path, 1, 2, 3)
    damage(tmp_path / "checkpoint_000003")
    (path, state), lines = resume(manager)
    assert path.name == "checkpoint_000002" and state.training_iteration == 2 and state.timesteps_total == 20
    assert len(lines) == 1 and "checkpoint_000003 is damaged" in lines[0] and named in lines[0], lines
    assert "moved aside to checkpoint_000003.damaged" in lines[0]
    assert (tmp_path / "checkpoint_000003.damaged").is_dir() and not (tmp_path / "checkpoint_000003").exists()
    # The moved one is never picked again, nor pruned when later checkpoints are written.
    manager.save(write, TrainingState(training_iteration=3))
    manager.save(write, TrainingState(training_iteration=4))
    small = CheckpointManager(tmp_path, keep=1)
    small.save(write, TrainingState(training_iteration=5))
    assert [p.name for p in small.candidates()] == ["checkpoint_000005"]
    assert (tmp_path / "checkpoint_000003.damaged").is_dir()


def test_two_damaged_are_both_moved_and_a_second_damage_gets_a_new_name(tmp_path: Path) -> None:
    manager = saved(tmp_path, 1, 2, 3)
    (tmp_path / "checkpoint_000000.damaged").mkdir()
    for name in ("checkpoint_000002", "checkpoint_000003"):
        (tmp_path / name / "weights.bin").write_bytes(b"")
    (path, _), lines = resume(manager)
    assert path.name == "checkpoint_000001" and len(lines) == 2
    saved(tmp_path, 2)
    (tmp_path / "checkpoint_000002" / "weights.bin").write_bytes(b"")
    (path, _), lines = resume(manager)
    assert path.name == "checkpoint_000001" and "checkpoint_000002.damaged.2" in lines[0]


def test_an_old_checkpoint_without_manifest_is_used_if_it_loads(tmp_path: Path) -> None:
    manager = saved(tmp_path, 1, 2)
    for name in ("checkpoint_000001", "checkpoint_000002"):
        (tmp_path / name / MANIFEST_FILE).unlink()
    (tmp_path / "checkpoint_000002" / "weights.bin").write_bytes(b"w" * 3)  # unverifiable, and it does not load
    (path, _), lines = resume(manager)
    assert path.name == "checkpoint_000001"
    assert "checkpoint_000002 is damaged (it does not load: EOFError: pickle data was truncated)" in lines[0]
    assert "no rlrt_manifest.json" in lines[1]


def test_none_intact_fails_listing_them_and_leaves_them(tmp_path: Path) -> None:
    manager = saved(tmp_path, 1, 2)
    (tmp_path / "checkpoint_000001" / "weights.bin").write_bytes(b"")
    (tmp_path / "checkpoint_000002" / STATE_FILE).unlink()
    with pytest.raises(UserError) as error:
        resume(manager)
    message = str(error.value)
    assert "No intact checkpoint to resume from" in message
    assert "checkpoint_000002 (rlrt_state.json missing)" in message
    assert "checkpoint_000001 (weights.bin truncated: 0 of 100 bytes)" in message
    assert "To start fresh, empty" in message and "--base-dir" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]


def test_no_checkpoint_starts_fresh(tmp_path: Path) -> None:
    assert resume(CheckpointManager(tmp_path / "none"))[0] is None
    assert resume(CheckpointManager(tmp_path))[0] is None


@pytest.mark.parametrize(
    ("expected", "named"),
    [
        (TrainingState(algorithm="BCQ", env="CartPole-v1"), "algorithm PPO (this job: BCQ)"),
        (TrainingState(algorithm="PPO", env="Pendulum-v1"), "environment CartPole-v1 (this job: Pendulum-v1)"),
        (
            TrainingState(algorithm="PPO", env="CartPole-v1", observation_space="Box(6,)"),
            "observation space Box(4,) (this job: Box(6,))",
        ),
    ],
)
def test_another_jobs_checkpoint_is_refused_not_moved(tmp_path: Path, expected: TrainingState, named: str) -> None:
    manager = saved(tmp_path, 1)
    with pytest.raises(UserError, match="was written by another job") as error:
        resume(manager, expected=expected)
    assert named in str(error.value) and "To start fresh" in str(error.value)
    assert (tmp_path / "checkpoint_000001").is_dir()


def test_the_same_job_under_an_alias_or_an_old_checkpoint_resumes(tmp_path: Path) -> None:
    manager = saved(tmp_path, 1)
    (found, _), _ = resume(manager, expected=TrainingState(algorithm="ppo", env="CartPole-v1"))
    assert found.name == "checkpoint_000001"


def test_describe_space() -> None:
    assert describe_space(spaces.Box(-1, 1, (4,))) == "Box(4,)"
    assert describe_space(spaces.Discrete(3)) == "Discrete(3)"
    assert describe_space(spaces.Dict({"a": spaces.Discrete(2)})) == "Dict(a: Discrete(2))"
    assert describe_space(None) == ""
