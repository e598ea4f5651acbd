"""The failure file on a disk that filled up mid-job: the training job holds a little room beside it while it runs
(taken with the tree's training lock) and gives it back to write the failure file, so it is never left empty; what
still cannot be written is said on stderr. Full disks are real tmpfs mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import EXIT_USER_ERROR, UserError, run_job
from runtime.job.setup import training_lock
from runtime.names import FAILURE_FILE, FAILURE_ROOM_FILE
from tests.path_faults import fill, tmpfs


def test_a_job_whose_disk_fills_up_still_writes_its_failure_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ml", size="256k") as tree:
        failure = tree / FAILURE_FILE

        def job() -> None:
            with training_lock(tree):
                assert (tree / "output" / FAILURE_ROOM_FILE).stat().st_size > 0
                fill(tree / "output" / "filler")
                raise UserError(
                    f"The progress file {tree}/output/intermediate/progress.csv cannot be written: no "
                    "space left on its disk."
                )

        assert run_job(job, lambda: failure) == EXIT_USER_ERROR
        assert "progress.csv cannot be written: no space left" in failure.read_text()
        assert not (tree / "output" / FAILURE_ROOM_FILE).exists()  # given back: nothing of it stays


def test_a_finished_job_leaves_no_room_behind(tmp_path: Path) -> None:
    def job() -> None:
        with training_lock(tmp_path):
            pass

    assert run_job(job, lambda: tmp_path / FAILURE_FILE) == 0
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == [".rlrt-training.lock"]


def test_a_failure_file_that_cannot_be_written_at_all_is_said_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tmpfs(tmp_path / "full", full=True) as full:

        def job() -> None:
            raise UserError("a reason")

        assert run_job(job, lambda: full / "failure") == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "rlrt: error: a reason" in err
    assert f"could not write the failure file {full / 'failure'}: No space left on device" in err
