"""The one message family for paths a command cannot use (``runtime/paths.py``), over file kinds and errno values.

Real file kinds (a file, a folder, nothing, a named pipe, a symbolic link to nothing, a path under a file) are made
in a temporary folder; read-only and full disks, which root cannot get from ``chmod``, are the errno values the
helper is given (the CLI tests in ``tests/jobs/test_path_errors_jobs.py`` make them real with tmpfs mounts)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import UserError
from runtime.paths import (
    FILE,
    FOLDER,
    describe_os_error,
    guarded,
    make_folder,
    path_kind,
    replaced_atomically,
    require_file,
)

KINDS = ("file", "folder", "missing", "fifo", "broken-link", "under-a-file")
ERRNOS = (
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.EACCES,
    errno.EPERM,
    errno.ENAMETOOLONG,
    errno.ENOENT,
    errno.EIO,
)
NAMES = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="/\\"), min_size=1, max_size=40
).filter(lambda n: n not in (".", ".."))


def make(kind: str, root: Path, name: str) -> Path:
    """A path of ``kind`` under ``root``."""
    path = root / name
    if kind == "file":
        path.write_text("x")
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "broken-link":
        path.symlink_to(root / f"{name}-gone")
    elif kind == "under-a-file":
        (root / "blocker").write_text("x")
        path = root / "blocker" / name
    return path


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS), code=st.sampled_from(ERRNOS), name=NAMES, expect=st.sampled_from([FOLDER, FILE]))
def test_every_message_names_the_path_and_never_the_bare_exception(
    kind: str, code: int, name: str, expect: str
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = make(kind, Path(scratch), name)
        message = describe_os_error(path, OSError(code, os.strerror(code), str(path)), "The --output", expect)
        assert message.startswith(f"The --output {path} ")
        assert "Errno" not in message and "Framework" not in message
        assert message.endswith((".", ")"))
        here = path_kind(path)
        if code in (errno.ENOSPC, errno.EDQUOT):
            assert "no space left on its disk" in message
        elif code == errno.EROFS:
            assert "read-only file system" in message and "without `:ro`" in message
        elif code == errno.ENAMETOOLONG:
            assert "too long" in message
        elif expect == FOLDER and here in ("a file", "a named pipe (FIFO)"):
            assert f"is {here}, not a folder" in message  # never "File exists" / "Not a directory" alone
        elif expect == FILE and here == "a folder":
            assert "is a folder, not a file" in message
        elif kind == "under-a-file":
            assert f"{path.parent} is a file, not a folder" in message
        elif kind == "broken-link":
            assert "is a symbolic link to" in message and "which does not exist" in message
        elif code in (errno.EACCES, errno.EPERM):
            assert "permission denied" in message
        elif kind == "missing":
            assert "does not exist" in message
        else:
            assert "does not exist" not in message  # it exists: never said missing


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), name=NAMES)
def test_real_writes_fail_in_the_family(kind: str, name: str) -> None:
    """Real operations, as root too: a folder made where a file, a pipe or a file's child is, and a file written
    where a folder is, end in a UserError of the family, and no temporary file stays."""
    with tempfile.TemporaryDirectory() as scratch:
        path = make(kind, Path(scratch), name)
        folder_ok = kind in ("folder", "missing")
        try:
            make_folder(path, "The --output folder")
            assert folder_ok, kind
        except UserError as exc:
            assert not folder_ok, (kind, exc)
            assert str(exc).startswith(f"The --output folder {path} ") or f"{path.parent} is a file" in str(exc)
        if kind in ("folder", "under-a-file", "fifo", "broken-link"):
            with pytest.raises(UserError) as info:
                with replaced_atomically(path if kind == "folder" else path / "x.csv", "The --output file") as tmp:
                    tmp.write_text("data")
            assert "Errno" not in str(info.value)
        leftovers = [p.name for p in Path(scratch).rglob("*") if p.name.endswith(".tmp")]
        assert not leftovers


def test_a_write_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "d.csv"
    with pytest.raises(UserError, match="no space left on its disk"):
        with replaced_atomically(target, "The --output file") as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert list(tmp_path.iterdir()) == []


def test_a_copytree_error_is_read_for_its_errno(tmp_path: Path) -> None:
    """``shutil.copytree`` reports its files' errors as text in one ``shutil.Error``: the first errno is used."""
    error = shutil.Error([(str(tmp_path / "a"), str(tmp_path / "b"), "[Errno 28] No space left on device: 'b'")])
    with pytest.raises(UserError, match=r"The model folder .* cannot be written: no space left on its disk"):
        with guarded(tmp_path, "The model folder"):
            raise error


def test_require_file_says_what_is_there(tmp_path: Path) -> None:
    assert require_file(make("file", tmp_path, "f"), "The tuning file") == tmp_path / "f"
    for kind, words in (
        ("folder", "is a folder, not a file"),
        ("missing", "does not exist"),
        ("broken-link", "is a symbolic link to"),
    ):
        with pytest.raises(UserError, match=words):
            require_file(make(kind, tmp_path, f"p-{kind}"), "The tuning file")
    with pytest.raises(UserError, match="is a device, not a file"):
        require_file(Path("/dev/null"), "The --input")
