"""SIGTERM during training (a spot interruption, StopTrainingJob) or SIGINT (Ctrl-C in a terminal): finish or abandon
the iteration, save a checkpoint, then stop (exit 143 after SIGTERM, 130 after SIGINT, as a shell reports them)."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

from runtime.errors import EXIT_SIGINT, EXIT_SIGTERM, JobInterrupted

SIGTERM_GRACE_S = 5.0
"""How long an iteration in flight may run on after SIGTERM before it is abandoned."""


class SigtermWatch:
    """Turns SIGTERM (and SIGINT) into a flag, and into :class:`JobInterrupted` if the iteration in flight runs too
    long."""

    def __init__(self, grace_s: float = SIGTERM_GRACE_S) -> None:
        self.grace_s = grace_s
        self.requested = False
        self.signal_name = ""
        """``SIGTERM`` or ``SIGINT``: the first stop signal that arrived."""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "SigtermWatch":
        self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)
        self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_term)
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    @property
    def exit_code(self) -> int:
        """The process exit code a stop by this signal ends with (128 + the signal's number)."""
        return EXIT_SIGINT if self.signal_name == "SIGINT" else EXIT_SIGTERM

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def __call__(self) -> bool:
        """Whether SIGTERM has arrived (backends poll this inside a long iteration)."""
        return self.requested

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        if not self.requested:
            self.signal_name = signal.Signals(signum).name
            print(f"rlrt: {self.signal_name} received: saving a checkpoint and stopping", file=sys.stderr, flush=True)
        self.requested = True
        signal.setitimer(signal.ITIMER_REAL, self.grace_s)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        raise JobInterrupted(f"{self.signal_name}: the iteration in flight was abandoned")

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


class HeldStop:
    """SIGTERM and SIGINT while the model folder is written: noted (``requested``) and acted on once it is complete,
    so that no signal leaves ``model/`` half written."""

    def __init__(self) -> None:
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return bool(self.signal_name)

    def __enter__(self) -> "HeldStop":
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.signal_name:
            self.signal_name = signal.Signals(signum).name
            print(f"rlrt: {self.signal_name} received while the model folder is written: finishing it first (no "
                  "final evaluation)", file=sys.stderr, flush=True)
