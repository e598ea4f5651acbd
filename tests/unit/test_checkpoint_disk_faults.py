"""Checkpoint writes on a disk that fails mid-job: a full disk, a dangling link where the checkpoint goes, a disk
error the framework wraps in its own. Each is a UserError naming the path and the fault; the last good checkpoint
stays the newest and no temporary folder is left. Full disks are real tmpfs mounts (root ignores ``chmod``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.train.checkpoints import CheckpointManager, TrainingState
from tests.path_faults import fill, tmpfs


def write(folder: Path) -> None:
    (folder / "weights.bin").write_bytes(b"w" * 50_000)


def _only_the_first(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir() if p.name != ".filler") == ["checkpoint_000001"]


def test_a_disk_that_fills_up_keeps_the_last_checkpoint_and_no_temporary_folder(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ckpt", size="256k") as folder:
        manager = CheckpointManager(folder, keep=3)
        manager.save(write, TrainingState(training_iteration=1))
        fill(folder / ".filler")
        with pytest.raises(UserError) as info:
            manager.save(write, TrainingState(training_iteration=2))
        message = str(info.value)
        assert f"the checkpoint folder {folder} cannot be written: no space left on its disk" in message
        assert "Free some space" in message and "checkpoint_000001, is kept" in message
        _only_the_first(folder)


def test_a_dangling_link_in_the_checkpoints_place_is_named(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save(write, TrainingState(training_iteration=1))
    (tmp_path / "checkpoint_000002").symlink_to(tmp_path / "gone")
    with pytest.raises(UserError) as info:
        manager.save(write, TrainingState(training_iteration=2))
    assert f"{tmp_path / 'checkpoint_000002'} is a symbolic link to {tmp_path / 'gone'}, which does not exist" in str(
        info.value
    )
    assert "checkpoint_000001, is kept" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_000001", "checkpoint_000002"]


def test_a_checkpoints_folder_turned_into_a_dangling_link_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    manager = CheckpointManager(folder, keep=3)
    manager.save(write, TrainingState(training_iteration=1))
    folder.rename(tmp_path / "moved")
    folder.symlink_to(tmp_path / "gone")
    with pytest.raises(UserError) as info:
        manager.save(write, TrainingState(training_iteration=2))
    assert f"{folder} is a symbolic link to {tmp_path / 'gone'}, which does not exist" in str(info.value)


def test_a_disk_error_the_framework_wraps_is_the_disks_and_leaves_no_temporary_folder(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save(write, TrainingState(training_iteration=1))

    def wrapped(folder: Path) -> None:
        (folder / "partial").write_text("x")
        try:
            raise OSError(28, "No space left on device", str(folder / "partial"))
        except OSError as exc:
            raise RuntimeError("checkpointing failed") from exc

    with pytest.raises(UserError, match="no space left on its disk"):
        manager.save(wrapped, TrainingState(training_iteration=2))
    _only_the_first(tmp_path)

    def bug(folder: Path) -> None:
        (folder / "partial").write_text("x")
        raise KeyError("a bug of ours")

    with pytest.raises(KeyError):  # not the disk's: as it is, but no temporary folder either
        manager.save(bug, TrainingState(training_iteration=2))
    _only_the_first(tmp_path)


def test_the_output_checkpoint_copy_on_a_full_disk_is_removed_whole_and_named(tmp_path: Path) -> None:
    from runtime.export.model_dir import write_output_checkpoint

    model = tmp_path / "model"
    (model / "checkpoint").mkdir(parents=True)
    (model / "checkpoint" / "weights.bin").write_bytes(b"w" * 300_000)
    (model / "metadata.json").write_text("{}")
    with tmpfs(tmp_path / "output", size="256k") as output:
        with pytest.raises(UserError) as info:
            write_output_checkpoint(output / "data" / "checkpoint", model)
        assert not (output / "data" / "checkpoint").exists()  # before: half a checkpoint left there
    assert "cannot be written: no space left on its disk" in str(info.value)
    assert f"The model folder {model} is complete" in str(info.value)
