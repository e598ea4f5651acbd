"""Standard output and error that outlive their reader.

``rlrt train ... | tee log`` and Ctrl-C: the terminal's SIGINT reaches ``tee`` too, which exits, and rlrt's next
line (the one saying it is saving a checkpoint) fails with EPIPE; a closed terminal fails writes with EIO. A stop
signal must not depend on anyone reading: once a stream's reader is gone, its file descriptor is pointed at
``/dev/null`` (child processes and native code writing there stop failing too), what the buffer held is dropped
with it, and the job goes on to its checkpoint, ``model/`` and ``output/failure``, which say what a reader missed.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO

GONE = (errno.EPIPE, errno.EIO)
"""A pipe whose reader exited; a terminal that was closed."""


class Outliving:
    """A text stream whose writes and flushes carry on (to ``/dev/null``) once its reader is gone."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name
        self.lost = False
        """Whether the reader went away (nothing written since reached anyone)."""

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._lose(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            self._lose(exc)

    def _lose(self, exc: OSError) -> None:
        if exc.errno not in GONE:
            raise exc
        self.lost = True
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, self._stream.fileno())
        finally:
            os.close(null)
        try:
            self._stream.flush()  # the buffered rest goes to /dev/null, so the next write starts clean
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Pickled (Ray Tune ships a trainable that refers to sys.stdout) as the receiving process's own stream, as
        # cloudpickle pickles sys.stdout itself.
        return standard_stream, (self._name,)


def standard_stream(name: str) -> Any:
    """This process's ``sys.stdout`` or ``sys.stderr``."""
    return getattr(sys, name)


def outlive_readers() -> None:
    """Make ``sys.stdout`` and ``sys.stderr`` :class:`Outliving` (idempotent; a stream without a file descriptor,
    such as a test's capture, is left as it is)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, Outliving) or stream is None:
            continue
        try:
            stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        setattr(sys, name, Outliving(stream, name))
