"""SIGTERM during training (a spot interruption, StopTrainingJob): finish or abandon the iteration, then stop."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

from runtime.errors import JobInterrupted

SIGTERM_GRACE_S = 5.0
"""How long an iteration in flight may run on after SIGTERM before it is abandoned."""


class SigtermWatch:
    """Turns SIGTERM into a flag, and into :class:`JobInterrupted` if the iteration in flight runs too long."""

    def __init__(self, grace_s: float = SIGTERM_GRACE_S) -> None:
        self.grace_s = grace_s
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "SigtermWatch":
        self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def __call__(self) -> bool:
        """Whether SIGTERM has arrived (backends poll this inside a long iteration)."""
        return self.requested

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        if not self.requested:
            print("rlrt: SIGTERM received: saving a checkpoint and stopping", file=sys.stderr, flush=True)
        self.requested = True
        signal.setitimer(signal.ITIMER_REAL, self.grace_s)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        raise JobInterrupted("SIGTERM: the iteration in flight was abandoned")

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
