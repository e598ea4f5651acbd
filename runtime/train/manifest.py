"""A checkpoint's manifest: every file's size and sha256, written last into the checkpoint folder.

On SageMaker ``/opt/ml/checkpoints`` is synced to S3 file by file, so after a spot interruption the newest
checkpoint can come back partial (a truncated file, a missing one, an empty folder). The manifest lets a resumed job
tell an intact checkpoint from a damaged one before the framework tries to unpickle it. A checkpoint written before
manifests existed has none: it is *unverified*, usable only if it loads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from runtime.names import MANIFEST_FILE

MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_manifest` found in a checkpoint folder."""

    status: str
    """``intact`` (the manifest matches), ``unverified`` (no manifest: an older checkpoint) or ``damaged``."""
    problems: tuple[str, ...] = ()
    """For a damaged checkpoint: what is wrong, one short phrase per file (``model.pt truncated: 10 of 20 bytes``)."""

    @property
    def damaged(self) -> bool:
        return self.status == "damaged"


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    """Every regular file under ``folder`` but the manifest, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_FILE)


def write_manifest(folder: Path) -> Path:
    """Record every file under ``folder`` (relative path, size, sha256) in ``folder/rlrt_manifest.json``.

    Called last, after the framework's files and the state file are written.
    """
    files = {
        p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in _files(folder)
    }
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps({"format": MANIFEST_FORMAT, "files": files}, indent=1, sort_keys=True))
    return path


def _read_manifest(path: Path) -> dict[str, Any] | str:
    """The manifest's ``files`` mapping, or a phrase saying why it cannot be read."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"{MANIFEST_FILE} unreadable ({type(exc).__name__})"
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        return f"{MANIFEST_FILE} has no file list"
    return files


def verify_manifest(folder: Path, skip: Callable[[str], bool] | None = None) -> Verification:
    """Check ``folder`` against its manifest: every listed file present, of its size and sha256.

    Extra files (not listed) are ignored, and so are the listed ones ``skip(relative name)`` names. A folder without
    a manifest is ``unverified`` unless it is empty, which only a partial sync leaves behind (checkpoints are renamed
    into place whole).
    """
    manifest = folder / MANIFEST_FILE
    if not folder.is_dir():
        return Verification("damaged", ("not a folder",))
    if not manifest.is_file():
        if not _files(folder):
            return Verification("damaged", ("empty folder",))
        return Verification("unverified")
    files = _read_manifest(manifest)
    if isinstance(files, str):
        return Verification("damaged", (files,))
    problems = []
    for name, entry in sorted(files.items()):
        if skip is not None and skip(name):
            continue
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} missing")
            continue
        size = path.stat().st_size
        expected = entry.get("size")
        if isinstance(expected, int) and size < expected:
            problems.append(f"{name} truncated: {size} of {expected} bytes")
        elif size != expected:
            problems.append(f"{name} is {size} bytes, the manifest says {expected}")
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(f"{name} changed (sha256 differs)")
    return Verification("damaged", tuple(problems)) if problems else Verification("intact")
