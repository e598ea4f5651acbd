"""A command writes inside its job and nowhere else: no ``/opt/ml`` on a laptop, a user's environment played by an
evaluation writes into the job's folder (not the launch folder), and the copied stderr of a script never runs into
its stdout mid-line."""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import runtime.errors
import runtime.evaluate.evaluator
import runtime.job.setup
import runtime.job.tree
from envs import adapters
from runtime.job.script_failure import StderrTail
from runtime.plugins import INSTALLED
from sagemaker_rl.coach_preset_file import train_preset_file


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """No SAGEMAKER_BASE_DIR, an ``/opt/ml`` (here a folder under tmp_path) that does not exist, and a launch folder;
    returns both."""
    opt_ml, launch = tmp_path / "opt-ml", tmp_path / "clone"
    launch.mkdir()
    monkeypatch.delenv("SAGEMAKER_BASE_DIR", raising=False)
    monkeypatch.setattr(runtime.errors, "DEFAULT_BASE_DIR", opt_ml)
    monkeypatch.setattr(runtime.job.setup, "DEFAULT_BASE_DIR", opt_ml)
    monkeypatch.setattr(runtime.job.tree, "DEFAULT_BASE_DIR", opt_ml)
    monkeypatch.chdir(launch)
    return opt_ml, launch


def test_a_missing_preset_file_writes_no_opt_ml(
    laptop: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opt_ml, launch = laptop
    assert train_preset_file(Path("missing.py"), None, {}) == 2
    assert "--preset missing.py: no such Coach preset file" in capsys.readouterr().err
    assert not opt_ml.exists() and list(launch.iterdir()) == []
    job = tmp_path / "job"
    job.mkdir()
    assert train_preset_file(Path("missing.py"), job, {}) == 2  # a tree of the user's: its failure file
    assert "no such Coach preset file" in (job / "output" / "failure").read_text()
    assert not opt_ml.exists()


def test_an_evaluated_environment_writes_into_the_job_not_the_launch_folder(
    laptop: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The knapsack example's environment writes ``knapsack_medium.csv`` where it runs."""
    _, launch = laptop

    def play(job: Any, *args: Any, **kwargs: Any) -> int:
        Path("knapsack_medium.csv").write_text("step,reward\n")
        return 0

    monkeypatch.setattr(runtime.evaluate.evaluator, "evaluate_in_job", play)
    job = tmp_path / "job"
    assert runtime.evaluate.evaluator.run_evaluation_job(job, {}, plugins=INSTALLED) == 0
    assert list(launch.iterdir()) == [] and Path.cwd() == launch
    assert (job / "output" / "intermediate" / "knapsack_medium.csv").is_file()


def test_paths_given_relative_to_the_launch_folder_still_name_it(
    laptop: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rlrt evaluate --checkpoint ckpt``: the evaluation runs in the job's folder, the path stays the user's."""
    _, launch = laptop
    (launch / "ckpt").mkdir()
    given: dict[str, Any] = {}

    def play(job: Any, plugins: Any, model: Any = None, **kwargs: Any) -> int:
        given.update(kwargs, model=model)
        return 0

    monkeypatch.setattr(runtime.evaluate.evaluator, "evaluate_in_job", play)
    code = runtime.evaluate.evaluator.run_evaluation_job(
        tmp_path / "job", {}, Path("model"), plugins=INSTALLED, checkpoint="ckpt"
    )
    assert code == 0 and given["checkpoint"] == str(launch / "ckpt") and given["model"] == launch / "model"


class Writes(io.RawIOBase):
    """Records each write: what a terminal or a log would receive, and in what pieces."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.wrote = threading.Event()

    def write(self, data: Any) -> int:
        self.pieces.append(bytes(data))
        self.wrote.set()
        return len(data)


def test_a_scripts_stderr_is_copied_in_whole_lines() -> None:
    """print() writes a line and its newline apart; the copy must not pass on the line without it, or the script's
    next stdout line (which reaches the terminal directly) runs into it."""
    read, write = os.pipe()
    out = Writes()
    with os.fdopen(read, "rb", buffering=0) as pipe:
        tail = StderrTail(pipe, out)  # type: ignore[arg-type]
        os.write(write, b"rlrt: ... as gym 0.21 defined them")
        out.wrote.wait(0.5)  # time for the copy to pass half a line on, had it done so
        os.write(write, b"\nsecond\nno newline at the end")
        os.close(write)
        assert "no newline at the end" in tail.text()
    assert out.pieces[0] == b"rlrt: ... as gym 0.21 defined them\nsecond\n"
    assert b"".join(out.pieces).endswith(b"no newline at the end")


def test_an_adaptation_line_is_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    pieces: list[str] = []

    class Stderr(io.StringIO):
        def write(self, text: str) -> int:
            pieces.append(text)
            return len(text)

    monkeypatch.setattr(sys, "stderr", Stderr())
    adapters.say_once("a key only this test uses", "rlrt: a line")
    assert pieces == ["rlrt: a line\n"]


def test_a_failure_is_written_into_an_opt_ml_that_exists_and_never_creates_one(laptop: tuple[Path, Path]) -> None:
    """``docker run -v tree:/opt/ml`` with a tree that lacks its hyperparameters still gets the failure file that
    says so; a laptop without ``/opt/ml`` only prints the message."""
    opt_ml, _ = laptop
    runtime.errors.write_failure(runtime.errors.default_failure_file(), "no hyperparameters")
    assert not opt_ml.exists()
    opt_ml.mkdir()
    runtime.errors.write_failure(runtime.errors.default_failure_file(), "no hyperparameters")
    assert (opt_ml / "output" / "failure").read_text() == "no hyperparameters\n"
