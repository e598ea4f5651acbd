"""progress.csv, TensorBoard and the learning curve on a disk that fails mid-job: a full ``output/`` or a read-only
``output/intermediate`` is a UserError naming the path, the fault and what the job keeps (before: an OSError, a
"Framework error", and at close one that hid the job's own error). Real tmpfs mounts (root ignores ``chmod``)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.train.reporting import IterationMetrics, Reporter
from tests.path_faults import fill, tmpfs

KEPT = "The checkpoint /ml/checkpoints/checkpoint_000001 is kept (a new job in this tree resumes from it)."


def metrics(i: int) -> IterationMetrics:
    return IterationMetrics(i, 100 * i, float(i), 1.0, 1.0, 1.0, 10.0, i, 1.0)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # TensorBoard's thread dies
def test_an_output_folder_that_fills_up_names_the_file_the_fault_and_what_is_kept(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "output", size="512k") as output:
        reporter = Reporter(output / "intermediate", output / "tensorboard", "test", io.StringIO(), kept=lambda: KEPT)
        reporter.report(metrics(1))
        fill(output / "filler")
        with pytest.raises(UserError) as info:  # once the rows fill the page the file has
            for i in range(2, 200):
                reporter.report(metrics(i))
        message = str(info.value)
        # Whichever write meets the full disk first (TensorBoard's thread writes at once, the CSV once its page is
        # full), never a blocked TensorBoard queue (before: the job hung there for ever).
        assert re.search(
            rf"(The progress file {output}/intermediate/progress.csv|The TensorBoard folder "
            rf"{output}/(intermediate/)?tensorboard) cannot be written: no space left",
            message,
        ), message
        assert "Free some space" in message and message.endswith(KEPT)

        with pytest.raises(UserError) as closing:  # every file is closed; the first failure is raised
            reporter.close()
        assert "no space left on its disk" in str(closing.value)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_closing_while_the_job_fails_already_says_it_in_a_line_and_never_raises(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "output", size="512k") as output:
        stream = io.StringIO()
        reporter = Reporter(output / "intermediate", output / "tensorboard", "test", stream)
        reporter.report(metrics(1))
        fill(output / "filler")
        reporter.close(raise_errors=False)
    assert "rlrt: warning: The TensorBoard folder" in stream.getvalue()
    assert "no space left on its disk" in stream.getvalue()


def test_a_read_only_intermediate_folder_is_named_before_the_first_iteration(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "intermediate", read_only=True) as intermediate:
        with pytest.raises(UserError) as info:
            Reporter(intermediate, tmp_path / "tensorboard", "test", io.StringIO())
    assert f"The TensorBoard folder {intermediate}/tensorboard is on a read-only file system" in str(info.value)
    with tmpfs(tmp_path / "intermediate", read_only=True) as intermediate:
        with pytest.raises(UserError) as info:
            Reporter(intermediate, tmp_path / "tensorboard", "test", io.StringIO(), tensorboard_copy=False)
    assert f"The progress file {intermediate}/progress.csv is on a read-only file system" in str(info.value)
