"""A model archive that holds no model, or is no archive, is named as the user gave it (before: an empty or
foreign archive named the temporary folder it was unpacked into, deleted as the command ended; a junk one listed
tarfile's four attempts)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.serving.model_store import locate_model


def _message(archive: Path) -> str:
    with pytest.raises(UserError) as info:
        locate_model(archive)
    assert "rlrt-model-" not in str(info.value)
    return str(info.value)


def test_an_empty_or_foreign_archive_names_the_archive(tmp_path: Path) -> None:
    empty = tmp_path / "model.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    assert _message(empty).startswith(f"No model in the archive {empty}: expected metadata.json")
    assert "it holds nothing" in _message(empty)
    foreign = tmp_path / "notes.tar.gz"
    with tarfile.open(foreign, "w:gz") as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    assert f"No model in the archive {foreign}" in _message(foreign) and "it holds notes.txt" in _message(foreign)
    (tmp_path / "job").mkdir()  # a folder holding model.tar.gz, as SageMaker's output folder does
    empty.rename(tmp_path / "job" / "model.tar.gz")
    assert f"No model in the archive {tmp_path / 'job' / 'model.tar.gz'}:" in _message(tmp_path / "job")


def test_a_junk_or_zero_byte_archive_says_what_it_is(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar file" * 100))
    assert _message(junk) == (
        f"Cannot unpack the model archive {junk}: it is not a tar archive (plain or gzip, bzip2 "
        "or xz compressed). Copy it again from where the training job wrote it (its "
        "model.tar.gz)."
    )
    zero = tmp_path / "zero.tar.gz"
    zero.write_bytes(b"")
    assert f"Cannot unpack the model archive {zero}: it is empty (0 bytes)." in _message(zero)
