"""Places a command cannot read or write, made real even for root (tests here often run as root, where ``chmod``
does not stop a write): a read-only or full tmpfs mounted for the test, a path under a regular file (ENOTDIR), a
named pipe. A test that cannot mount is skipped, saying why."""

from __future__ import annotations

import errno
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def _mount(folder: Path, options: str) -> None:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")


@contextmanager
def tmpfs(
    folder: Path, size: str = "1m", read_only: bool = False, full: bool = False, content: dict[str, bytes] | None = None
) -> Iterator[Path]:
    """A tmpfs at ``folder`` for the block: ``content`` written into it first, then filled to the last byte
    (``full``) or remounted read-only (``read_only``)."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount(folder, f"size={size}")
    try:
        for name, data in (content or {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        if full:
            fill(folder / ".filler")
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(path: Path) -> None:
    """Write ``path`` until its disk has no byte left."""
    with path.open("wb", buffering=0) as handle:
        block = b"\0" * 65536
        while True:
            try:
                handle.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]


def under_a_file(tmp_path: Path, name: str = "d.csv") -> Path:
    """A path whose folder is a regular file (every write there fails with ENOTDIR, for root too)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    return blocker / name


def fifo(path: Path) -> Path:
    """A named pipe at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path
