"""The one failure path: every job ends through :func:`run_job`.

A :class:`UserError` (a bad hyperparameter, a missing channel, an unknown preset) ends the job with its message in
``output/failure`` and exit code 2, without a traceback. Any other exception raised in the user's code (an
environment's step, a launcher script: :mod:`runtime.user_code`) is the user's too: its traceback goes to the log and
``output/failure`` names the file, line and environment method, exit code 2. Anything else is a framework error: the
traceback goes to the log (stderr) and a concise reason to ``output/failure``, exit code 1. SIGTERM or SIGINT
(:class:`JobInterrupted`, see :mod:`runtime.stop_signals`) ends it with one line, what the job kept in
``output/failure``, and exit code 143 or 130. SageMaker shows the first 1024 characters of the failure file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Callable

from runtime.names import BASE_DIR_ENV, CONFIG_DIR, DEFAULT_BASE_DIR, FAILURE_FILE, FAILURE_ROOM_FILE, LOCAL_TREE_FILE
from runtime.streams import outlive_readers
from runtime.user_code import user_code_failure

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FRAMEWORK_ERROR = 1
EXIT_USER_ERROR = 2
EXIT_SIGTERM = 143
EXIT_SIGINT = 130
EXIT_SIGHUP = 129

FAILURE_PREVIEW_CHARS = 1024
LONG_VALUE_CHARS = 200
"""A run of text without spaces longer than this in a message (a value a user gave, quoted) is cut to this many
characters: a 10 MB hyperparameter echoed whole buries the message in the log and the failure file."""
_LONG_RUN = re.compile(r"\S{%d,}" % (LONG_VALUE_CHARS + 40))


def cut_long_values(message: str) -> str:
    """``message`` with each run of more than ``LONG_VALUE_CHARS`` (+40) non-space characters cut to its first
    ``LONG_VALUE_CHARS`` and ``... (N characters)``."""
    return _LONG_RUN.sub(lambda m: f"{m.group()[:LONG_VALUE_CHARS]}... ({len(m.group())} characters)", message)


def container_job(base_dir: Path | None = None) -> bool:
    """Whether the job runs as SageMaker (or ``docker run``) runs it, so that advice names the estimator's
    hyperparameters rather than ``rlrt train``'s options: SageMaker's ``SM_`` variables are set, or the tree is
    ``/opt/ml``, or it is a job tree (``input/config``) that ``rlrt train`` did not lay out."""
    if any(name.startswith("SM_") for name in os.environ):
        return True
    base = Path(base_dir or os.environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR)
    return base == Path(DEFAULT_BASE_DIR) or ((base / CONFIG_DIR).is_dir() and not (base / LOCAL_TREE_FILE).is_file())


class UserError(Exception):
    """An error the user can fix (input, hyperparameter, file): reported without a traceback."""


class TreeBusy(UserError):
    """Another job holds the tree: reported like any :class:`UserError`, but not written into that tree's failure
    file, which belongs to the job running there."""


def signal_exit_code(name: str) -> int:
    """128 + the signal's number, as a shell reports a process it ended (SIGINT 130, SIGTERM 143, SIGHUP 129)."""
    return {"SIGINT": EXIT_SIGINT, "SIGHUP": EXIT_SIGHUP}.get(name, EXIT_SIGTERM)


class JobInterrupted(BaseException):
    """SIGTERM, SIGINT or SIGHUP ends the job (:mod:`runtime.stop_signals`): raised where the main thread was, or by the
    training loop once it kept what it could. A ``BaseException``, so that no ``except Exception`` on the way (a video
    that must never end a job, an export failure kept as the job's reason) takes it for an error of its own."""

    def __init__(self, signal_name: str = "SIGTERM", phase: str = "", kept: str = "", abandoned: bool = False) -> None:
        super().__init__(signal_name, phase, kept)
        self.signal_name = signal_name
        self.phase = phase
        self.kept = kept
        """What the job kept (a checkpoint, the model folder), as a sentence; "" for a command that keeps nothing."""
        self.abandoned = abandoned
        """True when an iteration in flight was cut off after the grace period."""

    @property
    def exit_code(self) -> int:
        return signal_exit_code(self.signal_name)

    def __str__(self) -> str:
        during = f" during {self.phase}" if self.phase else ""
        return f"Stopped by {self.signal_name}{during}." + (f" {self.kept}" if self.kept else "")


FAILURE_ROOM_BYTES = 16 * 1024
"""Room a training job holds beside its failure file (:data:`runtime.names.FAILURE_ROOM_FILE`) while it runs, given
back to write the failure file when the disk has filled up: a failure file is never left empty."""
_rooms: list[Path] = []


def keep_room_for_failure(failure_file: Path) -> None:
    """Hold :data:`FAILURE_ROOM_BYTES` beside ``failure_file`` until the job ends (:func:`run_job`); best effort."""
    room = failure_file.with_name(FAILURE_ROOM_FILE)
    try:
        room.write_bytes(b"\0" * FAILURE_ROOM_BYTES)  # written, not a sparse file: the blocks are taken
    except OSError:
        with contextlib.suppress(OSError):
            room.unlink(missing_ok=True)
        return
    _rooms.append(room)


def _give_back_room() -> bool:
    """Remove the room :func:`keep_room_for_failure` holds; whether there was any."""
    had = bool(_rooms)
    while _rooms:
        with contextlib.suppress(OSError):
            _rooms.pop().unlink(missing_ok=True)
    return had


def write_failure(failure_file: Path, message: str) -> None:
    """Write ``message`` to the failure file (creating its folder); never raises. On a full disk the room the job
    held is given back and the file written again; what still fails is said on stderr."""

    def write() -> None:
        failure_file.parent.mkdir(parents=True, exist_ok=True)
        # A message may quote text that is no UTF-8 (a name typed in a non-UTF-8 shell): spelled out, not lost.
        failure_file.write_text(message.rstrip() + "\n", encoding="utf-8", errors="backslashreplace")

    try:
        write()
    except OSError as exc:  # the failure path must not fail
        try:
            if not _give_back_room():
                raise exc
            write()
        except OSError as again:
            print(
                f"rlrt: could not write the failure file {failure_file}: {again.strerror or again}; the reason "
                "is the line above",
                file=sys.stderr,
            )


def default_failure_file() -> Path:
    """``<SAGEMAKER_BASE_DIR>/output/failure``; else ``/opt/ml/output/failure`` when ``/opt/ml`` exists (SageMaker's
    tree, or the one ``docker run -v`` mounts, even one that lacks its hyperparameters: that is the failure to
    report); else none (``os.devnull``: the message is only printed), so that a command on a laptop never creates
    ``/opt/ml``."""
    if os.environ.get(BASE_DIR_ENV):
        return Path(os.environ[BASE_DIR_ENV]) / FAILURE_FILE
    if DEFAULT_BASE_DIR.is_dir():
        return DEFAULT_BASE_DIR / FAILURE_FILE
    return Path(os.devnull)


def command_failure_file() -> Path:
    """The failure file of a command that runs beside jobs rather than as one (collect, serve, transform, export):
    the job tree's ``output/failure`` when ``SAGEMAKER_BASE_DIR`` names one, else none (``os.devnull``: the message is
    only printed), so that a laptop command never writes into, or creates, a real ``/opt/ml``."""
    return default_failure_file() if os.environ.get(BASE_DIR_ENV) else Path(os.devnull)


def _reason(exc: BaseException) -> str:
    """``Type: message``; an exception with no message raised from another (RLlib's env runner raises a bare
    ``RuntimeError`` from the error of the user's environment) is named with the one that has a message."""
    cause = exc
    while not str(cause).strip() and cause.__cause__ is not None:
        cause = cause.__cause__
    if cause is exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return f"{type(exc).__name__} raised from {type(cause).__name__}: {cause}".strip()


def run_job(job: Callable[[], int | None], failure_file: Callable[[], Path] = default_failure_file) -> int:
    """Run ``job`` and turn every way it can end into an exit code, writing the failure file on errors.

    ``failure_file`` is called only when a failure happens, so it can name the job's own tree once it is known.
    """
    outlive_readers()  # a stop must not depend on a reader of stdout (runtime.streams)
    try:
        code = job()
        return EXIT_OK if code is None else int(code)
    except UserError as exc:
        message = cut_long_values(str(exc))
        print(f"rlrt: error: {message}", file=sys.stderr, flush=True)
        if not isinstance(exc, TreeBusy):
            write_failure(failure_file(), message)
        return EXIT_USER_ERROR
    except JobInterrupted as exc:  # SIGTERM/SIGINT: one line, the reason in the failure file (SageMaker's status)
        print(f"rlrt: {str(exc)[0].lower()}{str(exc)[1:]}", file=sys.stderr, flush=True)
        write_failure(failure_file(), str(exc))
        return exc.exit_code
    except KeyboardInterrupt:  # SIGINT where the stop-signal handler is not installed (a caller's own process)
        print("rlrt: interrupted", file=sys.stderr, flush=True)
        write_failure(failure_file(), "Interrupted (Ctrl-C) before the job finished.")
        return EXIT_SIGINT
    except Exception as exc:  # noqa: BLE001 - this is the one place every framework error ends
        traceback.print_exc()
        blamed = user_code_failure(exc)
        if blamed is not None:  # the user's code raised it: theirs to fix, not rlrt's bug
            print(f"rlrt: error: {blamed}", file=sys.stderr, flush=True)
            write_failure(failure_file(), blamed[:FAILURE_PREVIEW_CHARS])
            return EXIT_USER_ERROR
        reason = _reason(exc)
        message = (
            f"Framework error: {reason[: FAILURE_PREVIEW_CHARS - 120]}\n"
            "The full traceback is in the job's log (stderr)."
        )
        print(f"rlrt: {message}", file=sys.stderr, flush=True)
        write_failure(failure_file(), message)
        return EXIT_FRAMEWORK_ERROR
    finally:
        _give_back_room()
