"""A script-mode job stopped while its entry point runs (SageMaker's StopTrainingJob or a spot interruption: SIGTERM
to the container; Ctrl-C under ``docker run -it``: SIGINT; a closed terminal: SIGHUP).

sagemaker-training runs the user's script as its child and passes no signal on, and it dies at the first one
itself, so the container passes each stop signal on to the script once, then waits for the script to save and exit
for at most a bounded grace period (:func:`grace_s`), and ends with the script's outcome: 0 when the script exited 0
(it saved and ended the job itself), else the signal's exit code with ``output/failure`` saying what happened (a
failure rlrt's own driver wrote in the script, "Stopped by SIGTERM during training. ...", is kept).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Iterator

import psutil

from runtime.errors import UserError, signal_exit_code, write_failure

GRACE_ENV = "RLRT_SCRIPT_STOP_GRACE_S"
GRACE_S = 100.0
"""How long the entry point gets, from the first stop signal, to save and exit: SageMaker kills the container 120 s
after SIGTERM; the rest is for the container to stop what is left and write the failure file."""
POLL_S = 0.5


def grace_s() -> float:
    """``RLRT_SCRIPT_STOP_GRACE_S`` (seconds, 0 to 120: SageMaker's own limit) or :data:`GRACE_S`."""
    given = os.environ.get(GRACE_ENV)
    if not given:
        return GRACE_S
    try:
        value = float(given)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 120:
        raise UserError(
            f"{GRACE_ENV} must be a number of seconds from 0 to 120 (SageMaker kills a stopped job 120 s "
            f"after SIGTERM), got {given!r}."
        )
    return value


class ScriptStop:
    """Passes stop signals on to the script sagemaker-training runs as ``toolkit``'s child, and bounds the wait."""

    def __init__(self, toolkit: subprocess.Popen, program: str, grace: float) -> None:
        self.toolkit = toolkit
        self.program = program or "the entry point"
        self.grace = grace
        self.signal_name = ""
        """The first stop signal that came ("" while none has)."""
        self.killed = False
        """Whether the script outlived the grace period and was killed."""
        self._sent_at = 0.0

    @property
    def stops(self) -> tuple[int, ...]:
        """SIGTERM, SIGINT and SIGHUP, unless the container was started ignoring SIGHUP (``nohup``)."""
        hangup = signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
        return (signal.SIGTERM, signal.SIGINT, *((signal.SIGHUP,) if hangup else ()))

    @contextmanager
    def forwarding(self) -> Iterator["ScriptStop"]:
        """Handle the stop signals while the body runs; the previous handlers come back after it."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in self.stops}
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        targets, what = self._targets()
        # A closed terminal stops the script as SageMaker does: a script saves on SIGTERM, and SIGHUP's default
        # action would end it without a word.
        passed = signal.SIGTERM if signum == signal.SIGHUP else signum
        if not self.signal_name:
            self.signal_name, self._sent_at = name, time.monotonic()
            print(
                f"rlrt: {name} received: passed on to {what} as {signal.Signals(passed).name}; waiting up to "
                f"{self.grace:g} s for it to save and exit",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(f"rlrt: a second {name}: passed on to {what}", file=sys.stderr, flush=True)
        for target in targets:
            try:
                target.send_signal(passed)
            except psutil.NoSuchProcess:
                pass

    def _targets(self) -> tuple[list[psutil.Process], str]:
        """The script (sagemaker-training's children), or sagemaker-training itself before it started one (it is
        fetching the source dir or installing requirements: nothing to save)."""
        try:
            toolkit = psutil.Process(self.toolkit.pid)
            scripts = toolkit.children()
        except psutil.NoSuchProcess:
            return [], "nobody (sagemaker-training has ended)"
        if scripts:
            return scripts, f"the entry point {self.program}"
        return [toolkit], "sagemaker-training (the entry point had not started)"

    def wait(self) -> int:
        """sagemaker-training's exit code; once a signal came, the script and what it started are killed when they
        run past the grace period."""
        while True:
            try:
                return self.toolkit.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
            if self.signal_name and time.monotonic() - self._sent_at > self.grace:
                self._kill()

    def _kill(self) -> None:
        print(
            f"rlrt: {self.program} did not exit within {self.grace:g} s of {self.signal_name}: stopping it (SIGKILL)",
            file=sys.stderr,
            flush=True,
        )
        self.killed = True
        try:
            toolkit = psutil.Process(self.toolkit.pid)
            processes = [*toolkit.children(recursive=True), toolkit]
        except psutil.NoSuchProcess:
            return
        for process in processes:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass

    def outcome(self, code: int, failure_file: Path) -> int:
        """The container's exit code after a stop, saying what happened (a line; ``output/failure`` unless the
        script exited 0)."""
        took = time.monotonic() - self._sent_at
        if code == 0 and not self.killed:
            print(
                f"rlrt: {self.program} exited 0 {took:.1f} s after {self.signal_name}: the job ends as the script "
                "ended it",
                file=sys.stderr,
                flush=True,
            )
            return 0
        if self.killed:
            message = (
                f"Stopped by {self.signal_name}: the entry point {self.program} did not exit within "
                f"{self.grace:g} s of it and was killed; what it had not saved is lost. Save checkpoints "
                f"during training, or on SIGTERM within {self.grace:g} s ({GRACE_ENV} sets the wait, up to "
                "120 s)."
            )
        else:
            message = (
                f"Stopped by {self.signal_name}: the entry point {self.program} exited with code {code} "
                f"{took:.1f} s after the signal was passed on to it."
            )
        try:
            written = failure_file.read_text(encoding="utf-8")
        except OSError:
            written = ""
        if written.startswith("Stopped by "):  # rlrt's driver in the script said (and printed) what it kept
            return signal_exit_code(self.signal_name)
        write_failure(failure_file, message)
        print(f"rlrt: {message[0].lower()}{message[1:]}", file=sys.stderr, flush=True)
        return signal_exit_code(self.signal_name)
