"""Lines that native code (C ``printf``, C++ loggers) writes straight to a file descriptor, where Python's logging and
warnings filters never see them: dropped while a call runs, everything else written meanwhile passed on at once.

PyBullet prints ``pybullet build time: ...`` (stderr) when it is imported and ``argv[0]=`` (stdout) twice per
environment, at its first reset (its physics client connects), in the driver and in every env runner.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import threading
from typing import Any, Iterator

import gymnasium as gym

PYBULLET_LINES = re.compile(rb"^(argv\[0\]=|pybullet build time: )")
"""What PyBullet's C code prints that no user can act on."""

_WINDOW = threading.RLock()
"""One thread's windows at a time (nested ones restore in order; two threads' interleaved ones would restore each
other's descriptor)."""


def _flush_all() -> None:
    """Flush Python's and the C library's buffered output, so that it reaches the descriptor it was written for."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


def _forward(reader: int, target: int, drop: re.Pattern[bytes]) -> None:
    """Copy whole lines from ``reader`` to ``target`` until end of file, leaving out those ``drop`` matches."""
    pending = b""
    while True:
        try:
            chunk = os.read(reader, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        _write_all(target, b"".join(line + b"\n" for line in lines if not drop.search(line)))
    if not drop.search(pending):
        _write_all(target, pending)
    os.close(reader)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


@contextlib.contextmanager
def without_native_lines(drop: re.Pattern[bytes], fds: tuple[int, ...] = (1, 2)) -> Iterator[None]:
    """While the block runs, lines written to the descriptors ``fds`` (1: stdout, 2: stderr) that ``drop`` matches
    are left out; all other output goes on to the same place as it comes (a thread copies it from a pipe)."""
    with _WINDOW, contextlib.ExitStack() as stack:
        for fd in fds:
            stack.enter_context(_filtered(fd, drop))
        yield


@contextlib.contextmanager
def _filtered(fd: int, drop: re.Pattern[bytes]) -> Iterator[None]:
    """``fd`` pointed at a pipe whose lines :func:`_forward` copies to where ``fd`` pointed, until the block ends."""
    _flush_all()
    saved = os.dup(fd)
    reader, writer = os.pipe()
    thread = threading.Thread(target=_forward, args=(reader, saved, drop), name="rlrt-native-output", daemon=True)
    thread.start()
    os.dup2(writer, fd)
    os.close(writer)
    try:
        yield
    finally:
        _flush_all()
        os.dup2(saved, fd)  # the pipe's last writer (unless a process started meanwhile holds it) is gone
        thread.join(timeout=2)
        if not thread.is_alive():
            os.close(saved)


class QuietFirstReset(gym.Wrapper):
    """An environment whose native code prints on its first reset (PyBullet connects its physics client there):
    that reset runs with ``drop``'s lines left out of stdout; later resets and every step run untouched."""

    def __init__(self, env: gym.Env, drop: re.Pattern[bytes]) -> None:
        super().__init__(env)
        self.drop = drop
        self.quieted = False

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if self.quieted:
            return self.env.reset(**kwargs)
        with without_native_lines(self.drop):
            result = self.env.reset(**kwargs)
        self.quieted = True
        return result
