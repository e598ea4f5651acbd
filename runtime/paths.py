"""One message family for a path that cannot be read or written.

Every command that reads or writes a path the user gave (``--output``, ``--input``, ``--model-dir``, the job tree's
folders, ``TMPDIR``) turns the operating system's error into a :class:`~runtime.errors.UserError` through
:func:`describe_os_error`: the path, what is there (a file, a folder, a named pipe, nothing) and what to do, instead
of ``Framework error: NotADirectoryError: [Errno 20] ...``. :func:`guarded` wraps a block; :func:`replaced_atomically`
writes a file through a temporary sibling that is removed if anything fails, so nothing half-written stays.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from runtime.errors import UserError

FOLDER = "folder"
FILE = "file"

_SHUTIL_ERRNO = re.compile(r"\[Errno (\d+)\] ([^:'\"\]]+)")


def path_kind(path: Path) -> str:
    """What is at ``path``, in words: ``a file``, ``a folder``, ``a named pipe (FIFO)``, ``a broken symbolic link``,
    ``nothing`` (missing), ... A path that cannot even be looked at is ``unreachable``."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # under a file: nothing can be there
        return "nothing"
    except OSError:
        return "unreachable"
    if stat.S_ISLNK(info.st_mode):
        try:
            info = os.stat(path)
        except OSError:
            return "a broken symbolic link"
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file or folder"


def _blocking_ancestor(path: Path) -> Path | None:
    """The nearest folder above ``path`` that exists but is not a folder (a file where a folder is needed)."""
    for parent in path.parents:
        kind = path_kind(parent)
        if kind == "nothing":
            continue
        return None if kind == "a folder" else parent
    return None


def _free_space(path: Path) -> str:
    for candidate in (path, *path.parents):
        try:
            return f"{shutil.disk_usage(candidate).free / 2**20:.1f} MB free"
        except OSError:
            continue
    return "its free space unknown"


def _errno_of(err: BaseException) -> tuple[int | None, str]:
    """An error's errno and words; a :class:`shutil.Error` (``copytree`` collects its files' errors as text) gives
    those of its first file."""
    if isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list):
        for entry in err.args[0]:
            found = _SHUTIL_ERRNO.search(str(entry))
            if found:
                return int(found.group(1)), found.group(2).strip()
        return None, str(err)[:300]
    if isinstance(err, OSError):
        return err.errno, err.strerror or str(err)
    return None, str(err)


def describe_os_error(path: Path, err: BaseException, role: str, expect: str = FOLDER) -> str:
    """The message for ``err`` met while reading or writing ``path``: ``"<role> <path> is a file, not a folder: ..."``.

    ``role`` names the path for the user ("The output folder", "The --policy-file"); ``expect`` is what the command
    needs there (:data:`FOLDER` or :data:`FILE`). The message names the path, what is there and what to do."""
    path = Path(path)
    code, words = _errno_of(err)
    name = errno.errorcode.get(code or -1, "")
    reason = f"{name}: {words}" if name else words
    where = f"{role} {path}"
    other = getattr(err, "filename", None)
    inner = f" (at {other})" if other and Path(str(other)) != path else ""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"{where} cannot be written: no space left on its disk ({_free_space(path)}; {reason}){inner}. "
            "Free some space or give a path on a larger disk."
        )
    if code == errno.EROFS:
        return (
            f"{where} is on a read-only file system ({reason}){inner}. Give a path on a writable disk, or "
            "mount it read-write (`docker run -v HOST:PATH` without `:ro`)."
        )
    if code == errno.ENAMETOOLONG:
        return (
            f"{where} is too long for the file system ({reason}: a name may have at most 255 bytes). Give a "
            "shorter path."
        )
    kind = path_kind(path)
    if expect == FOLDER and kind not in ("a folder", "nothing", "unreachable", "a broken symbolic link"):
        return f"{where} is {kind}, not a folder ({reason}). Give a folder (new or existing), or move {path.name} away."
    if expect == FILE and kind == "a folder":
        return f"{where} is a folder, not a file ({reason}). Give the path of a file."
    blocker = _blocking_ancestor(path)
    if blocker is not None:
        return (
            f"{where} cannot be made: {blocker} is {path_kind(blocker)}, not a folder ({reason}). Give a path "
            f"whose folders are folders, or move {blocker.name} away."
        )
    if kind == "a broken symbolic link":
        return (
            f"{where} is a symbolic link to {os.readlink(path)}, which does not exist ({reason}). Give a path "
            "that exists, or fix the link."
        )
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"{where} cannot be used: permission denied ({reason}){inner}. Give a path this user "
            f"(uid {os.getuid()}) can {'write' if expect == FOLDER else 'read and write'}, or change its "
            "permissions."
        )
    if kind == "nothing":
        return f"{where} does not exist ({reason}){inner}. Check the path."
    return (
        f"{where} ({kind}) cannot be written: {reason}{inner}. Give a path on a disk this job can write, such "
        "as a folder under your home or the job tree."
    )


def path_error(path: Path, err: BaseException, role: str, expect: str = FOLDER) -> UserError:
    """:func:`describe_os_error` as a :class:`UserError` (raise it ``from err``)."""
    return UserError(describe_os_error(path, err, role, expect))


@contextmanager
def guarded(path: Path, role: str, expect: str = FOLDER) -> Iterator[None]:
    """Run the block; an ``OSError`` (or ``shutil.Error``) in it becomes :func:`path_error` for ``path``."""
    try:
        yield
    except (OSError, shutil.Error) as exc:
        raise path_error(path, exc, role, expect) from exc


def make_folder(path: Path, role: str) -> Path:
    """Create ``path`` (and its parents) as a folder if missing; a :class:`UserError` when it cannot be a folder or
    cannot be written."""
    with guarded(path, role, FOLDER):
        if path_kind(path) not in ("nothing", "a folder"):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".rlrt-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    return path


def require_file(path: Path, role: str) -> Path:
    """``path`` when it is a file to read (a file, or a named pipe); else a :class:`UserError` saying what is there
    (a folder, nothing, a broken link)."""
    kind = path_kind(path)
    if kind in ("a file", "a named pipe (FIFO)"):
        return path
    if kind == "a folder":
        raise UserError(f"{role} {path} is a folder, not a file. Give the path of a file.")
    if kind == "a broken symbolic link":
        raise UserError(
            f"{role} {path} is a symbolic link to {os.readlink(path)}, which does not exist. Give a "
            "path that exists, or fix the link."
        )
    if kind == "nothing":
        blocker = _blocking_ancestor(path)
        if blocker is not None:
            raise UserError(f"{role} {path} does not exist: {blocker} is {path_kind(blocker)}, not a folder.")
        raise UserError(f"{role} {path} does not exist. Check the path.")
    raise UserError(f"{role} {path} is {kind}, not a file it can read. Give the path of a file.")


def output_file(path: Path, role: str) -> Path:
    """Check, before any work, that ``path`` can be written as a file: not a folder, its folder made (if missing)
    and writable; a :class:`UserError` in the family of :func:`describe_os_error` otherwise."""
    if path_kind(path) == "a folder":
        raise UserError(
            f"{role} {path} is a folder, not a file. Give the path of a file in it (e.g. "
            f"{path / ('new' + (path.suffix or '.out'))})."
        )
    make_folder(path.parent, f"The folder of {role[0].lower()}{role[1:]}")
    return path


@contextmanager
def replaced_atomically(path: Path, role: str) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; when the block ends it replaces ``path``. If anything fails
    the temporary file is removed (no half-written file stays) and an ``OSError`` becomes :func:`path_error`."""
    output_file(path, role)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with guarded(path, role, FILE):
            yield tmp
            tmp.replace(path)
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder cannot be written: nothing was made there
            pass
