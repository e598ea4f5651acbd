"""Checkpoints: atomic writes, the last K kept, the newest complete one found."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.train.checkpoints import CheckpointManager, TrainingState


def write(folder: Path) -> None:
    (folder / "weights.bin").write_bytes(b"w" * 10)


def test_keeps_the_last_k_and_finds_the_newest(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep=2)
    for i in (5, 10, 15):
        manager.save(write, TrainingState(training_iteration=i, timesteps_total=100 * i))
    assert [p.name for p in manager.checkpoints()] == ["checkpoint_000010", "checkpoint_000015"]
    latest = manager.latest()
    assert latest is not None and CheckpointManager.read_state(latest).timesteps_total == 1500


def test_a_half_written_checkpoint_is_never_picked(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save(write, TrainingState(training_iteration=1))
    # A job killed while writing leaves a temporary folder, and a folder without our state file.
    (tmp_path / ".tmp-checkpoint_000002-99999").mkdir()
    (tmp_path / "checkpoint_000003").mkdir()
    assert manager.latest().name == "checkpoint_000001"
    manager.save(write, TrainingState(training_iteration=4))
    assert not (tmp_path / ".tmp-checkpoint_000002-99999").exists()


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save(write, TrainingState(training_iteration=1))

    def broken(folder: Path) -> None:
        (folder / "partial").write_text("x")
        raise OSError("disk full")

    with pytest.raises(UserError) as info:
        manager.save(broken, TrainingState(training_iteration=2))
    assert manager.latest().name == "checkpoint_000001"
    assert "Cannot write the checkpoint of iteration 2" in str(info.value) and "disk full" in str(info.value)
    assert "checkpoint_000001, is kept" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_000001"]  # no half-written folder left


def test_the_newest_and_the_pruned_go_by_the_recorded_iteration_not_the_name(tmp_path: Path) -> None:
    """A copy of iteration 2 renamed checkpoint_99999999999 is as old as iteration 2: never resumed from before the
    newer ones, and pruned first (it once made a job resume from iteration 2 and prune what it had just written)."""
    import shutil

    manager = CheckpointManager(tmp_path, keep=2)
    manager.save(write, TrainingState(training_iteration=2))
    shutil.copytree(tmp_path / "checkpoint_000002", tmp_path / "checkpoint_99999999999")
    shutil.rmtree(tmp_path / "checkpoint_000002")
    assert manager.latest().name == "checkpoint_99999999999"  # the only one: iteration 2
    manager.save(write, TrainingState(training_iteration=3))
    assert manager.latest().name == "checkpoint_000003"
    manager.save(write, TrainingState(training_iteration=4))
    assert [p.name for p in manager.checkpoints()] == ["checkpoint_000003", "checkpoint_000004"]


def test_saving_the_same_iteration_twice_replaces_it(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save(write, TrainingState(training_iteration=7, timesteps_total=1))
    manager.save(write, TrainingState(training_iteration=7, timesteps_total=2))
    assert len(manager.checkpoints()) == 1
    assert CheckpointManager.read_state(manager.latest()).timesteps_total == 2


def test_resume_compares_the_recorded_settings_and_refuses_another_network(tmp_path: Path) -> None:
    from runtime.train.checkpoints import config_changes

    trained = CheckpointManager(tmp_path, config={"lr": 0.001, "model_config": {"fcnet_hiddens": [64, 64]}})
    trained.save(write, TrainingState(training_iteration=2))
    assert trained.stored_config(trained.latest()) == {"lr": 0.001, "model_config": {"fcnet_hiddens": [64, 64]}}
    assert config_changes({"lr": 0.001, "gamma": 0.99}, {"lr": 0.05, "gamma": 0.99, "seed": 3}) == [
        "lr: 0.001 -> 0.05",
        'seed: "(unset)" -> 3',
    ]
    assert config_changes(None, {"lr": 1}) == []  # a checkpoint that recorded nothing: nothing to compare

    loaded: list[Path] = []
    changed_lr = CheckpointManager(tmp_path, config={"lr": 0.05, "model_config": {"fcnet_hiddens": [64, 64]}})
    assert changed_lr.resume(loaded.append, TrainingState(), print) is not None and len(loaded) == 1
    wider = CheckpointManager(tmp_path, config={"lr": 0.001, "model_config": {"fcnet_hiddens": [256, 256]}})
    with pytest.raises(UserError, match=r"network of another shape.*model_config: .*64, 64.* -> .*256, 256"):
        wider.resume(loaded.append, TrainingState(), print)
    assert len(loaded) == 1 and [p.name for p in wider.checkpoints()] == ["checkpoint_000002"]  # not moved aside


def test_an_old_checkpoint_that_cannot_be_removed_is_named_and_never_left_half(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of the old checkpoint made immutable (``chattr +i``): pruning says so in one line and moves what is
    left aside (a hidden name), instead of leaving a checkpoint folder with half its files, silently."""
    import shutil
    import subprocess

    manager = CheckpointManager(tmp_path, keep=1)
    manager.save(write, TrainingState(training_iteration=1))
    stuck = tmp_path / "checkpoint_000001" / "weights.bin"
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here (needs root and a file system with the attribute)")
    try:
        manager.save(write, TrainingState(training_iteration=2))
        out = capsys.readouterr().out
        assert "rlrt: could not remove all of the old checkpoint checkpoint_000001 (Operation not permitted" in out
        assert [p.name for p in manager.candidates()] == ["checkpoint_000002"]
        left = [p for p in tmp_path.iterdir() if p.name.startswith(".old-checkpoint_000001")]
        assert len(left) == 1 and f"in {left[0]}: remove it by hand" in out
    finally:
        for path in tmp_path.rglob("weights.bin"):
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
