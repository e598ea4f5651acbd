"""Finding a model (a folder, or a ``model.tar.gz`` as SageMaker delivers it) and running its ONNX policy.

Used by ``rlrt serve``, ``rlrt transform`` and ``rlrt evaluate``. ONNX Runtime only: no torch, no Ray, so a server
worker starts in well under a second.
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from runtime.errors import UserError
from runtime.paths import path_kind
from runtime.names import BASE_DIR_ENV, DEFAULT_BASE_DIR, METADATA_JSON, MODEL_DIR, SERVE_POLICY_ENV
from runtime.serving.codec import OBSERVATIONS, observation_dim_from_metadata
from runtime.serving.coach import CoachModel
from runtime.train.manifest import verify_manifest

MODEL_TARBALL = "model.tar.gz"


def default_model_dir() -> Path:
    """``$SAGEMAKER_BASE_DIR/model`` (``/opt/ml/model`` in SageMaker, where hosting unpacks model.tar.gz)."""
    return Path(os.environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR) / MODEL_DIR


def _remove_if_owner(path: Path, owner: int) -> None:
    # Forked server workers run atexit handlers too: only the process that unpacked the model removes it.
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def _extract(tarball: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="rlrt-model-"))
    atexit.register(_remove_if_owner, target, os.getpid())
    try:
        _check_gzip_stream(tarball)
        with tarfile.open(tarball, "r:*") as archive:
            archive.extractall(target, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:  # EOFError, zlib.error: a truncated archive
        reason = f"{type(exc).__name__}: {exc or 'truncated'}"
        if isinstance(exc, tarfile.ReadError) and "could not be opened" in str(exc):  # tarfile lists every method
            reason = (
                "it is empty (0 bytes)"
                if tarball.stat().st_size == 0
                else "it is not a tar archive (plain or gzip, bzip2 or xz compressed)"
            )
        raise UserError(
            f"Cannot unpack the model archive {tarball}: {reason}. Copy it again from where the "
            "training job wrote it (its model.tar.gz)."
        ) from exc
    return target


def _check_gzip_stream(tarball: Path) -> None:
    """Read a gzip archive to its end, so that a damaged one fails with gzip's own error (``CRC check failed``)
    before extraction: ``tarfile`` takes a garbled header midway for the end of the archive and stops quietly."""
    with tarball.open("rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            return
    with gzip.open(tarball, "rb") as stream:
        while stream.read(1 << 20):
            pass


def verify_model_folder(model_dir: Path, skip: Callable[[str], bool] | None = None, shown: str | None = None) -> None:
    """A :class:`UserError` naming every file of ``model_dir`` that does not match the manifest the training job
    wrote last into it (``rlrt_manifest.json``: each file's size and sha256; ``skip(name)``: files not to check); a
    folder written before manifests existed is accepted unverified. ``shown``: how the message names the model (the
    archive it was unpacked from, not a temporary folder)."""
    check = verify_manifest(model_dir, skip)
    if check.damaged:
        listed = "; ".join(check.problems[:8]) + ("; ..." if len(check.problems) > 8 else "")
        raise UserError(
            f"The model in {shown or model_dir} is damaged: {listed}. Use the model.tar.gz the training "
            "job wrote, or export it again from its checkpoint (`rlrt export --model-dir DIR`)."
        )


def locate_model(path: Path, shown: str | None = None) -> Path:
    """The folder holding ``metadata.json`` for ``path``: that folder, a ``model.tar.gz`` (unpacked to a temporary
    folder), a folder holding ``model.tar.gz``, or a folder with exactly one model folder inside. ``shown``: how
    messages name an unpacked archive's folder."""
    path = Path(path).resolve()  # RLlib reads checkpoints by URI: a relative path has no scheme
    if not path.exists():
        raise UserError(f"No model at {path}: the path does not exist.")
    if path.is_file():
        if path.name.endswith((".tar.gz", ".tgz", ".tar")):
            return locate_model(_extract(path), shown=f"{path} (unpacked)")
        raise UserError(f"{path} is not a model: give a model folder or a model.tar.gz.")
    if not path.is_dir():
        raise UserError(f"{path} is {path_kind(path)}, not a model: give a model folder or a model.tar.gz.")
    if (path / METADATA_JSON).is_file():
        verify_model_folder(path, shown=shown)
        return path
    if (path / MODEL_TARBALL).is_file():
        return locate_model(_extract(path / MODEL_TARBALL), shown=f"{path / MODEL_TARBALL} (unpacked)")
    inner = [p for p in path.iterdir() if p.is_dir() and (p / METADATA_JSON).is_file()]
    if len(inner) == 1:
        verify_model_folder(inner[0], shown=shown and f"{shown}, {inner[0].name}/")
        return inner[0]
    found = ", ".join(sorted(p.name for p in path.iterdir())[:20]) or "nothing"
    if shown:  # an archive's temporary folder, gone as the command ends: name the archive the user gave
        raise UserError(
            f"No model in the archive {shown.removesuffix(' (unpacked)')}: expected {METADATA_JSON} (the "
            f"model folder `rlrt train` writes, packed at the archive's top) inside it; it holds "
            f"{found}. Give the model.tar.gz the training job wrote, or a model folder."
        )
    raise UserError(
        f"No model in {path}: expected {METADATA_JSON} (a folder written by `rlrt train`) or {MODEL_TARBALL}; "
        f"found {found}."
    )


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """``metadata.json`` of a located model folder."""
    try:
        metadata: dict[str, Any] = json.loads((model_dir / METADATA_JSON).read_text())  # `rlrt train` writes an object
        return metadata
    except (OSError, ValueError) as exc:
        raise UserError(f"Cannot read {model_dir / METADATA_JSON}: {exc}") from exc


def select_policy(model_dir: Path, metadata: dict[str, Any], policy: str | None = None) -> dict[str, Any]:
    """The metadata of the policy to serve: a single-agent model's own; a multi-agent model's (``serving.policies``)
    one policy, named by ``policy`` or ``RLRT_POLICY`` (needed only when it has more than one), as if it were a
    single-agent model (``serving`` is that policy's section; ``policy_id`` names it)."""
    policies = (metadata.get("serving") or {}).get("policies")
    if not isinstance(policies, Mapping):
        return metadata
    chosen = policy or os.environ.get(SERVE_POLICY_ENV) or None
    if chosen is None:
        if len(policies) != 1:
            raise UserError(
                f"The model in {model_dir} is multi-agent with the policies {', '.join(policies)}: "
                f"name the one to serve with {SERVE_POLICY_ENV}=<policy id>."
            )
        chosen = next(iter(policies))
    if chosen not in policies:
        raise UserError(
            f"{SERVE_POLICY_ENV}={chosen!r}: the model in {model_dir} has no such policy; it has {', '.join(policies)}."
        )
    spaces = {
        key: ((metadata.get(key) or {}).get("spaces") or {}).get(chosen)
        for key in ("observation_space", "action_space")
    }
    return {
        **metadata,
        **{k: v for k, v in spaces.items() if v is not None},
        "serving": policies[chosen],
        "policy_id": chosen,
    }


def check_servable(model_dir: Path) -> dict[str, Any]:
    """Check (without loading it) that ``model_dir`` has an ONNX policy and an observation shape; its metadata (a
    multi-agent model's: that of the policy :func:`select_policy` picks)."""
    metadata = select_policy(model_dir, read_metadata(model_dir))
    onnx_file = (metadata.get("serving") or {}).get("onnx")
    if not onnx_file or not (model_dir / onnx_file).is_file():
        raise UserError(
            f"The model in {model_dir} has no ONNX policy (metadata.json 'serving.onnx'); models trained by this "
            "rlrt version have one. Re-export an older RLlib model with `rlrt export --model-dir DIR`."
        )
    try:
        observation_dim_from_metadata(metadata)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    return metadata


@dataclass(frozen=True)
class ModelSnapshot:
    """A model folder's servable part (metadata and ONNX bytes) read into memory once.

    The server reads it before forking its workers, so every worker, including one gunicorn starts to replace a
    dead one, serves the same model whatever happens to the folder afterwards (replaced, half-copied, deleted); a
    new model is served from the next start, as a SageMaker endpoint update does.
    """

    model_dir: Path
    metadata: dict[str, Any]
    onnx: bytes
    coach: bytes | None = None
    """A Coach model's ``model.onnx`` (it answers a bare JSON list as Coach did: :mod:`runtime.serving.coach`)."""

    @property
    def onnx_path(self) -> Path:
        return self.model_dir / str(self.metadata["serving"]["onnx"])


def read_snapshot(model_dir: Path) -> ModelSnapshot:
    """Check ``model_dir`` (:func:`check_servable`) and read its ONNX policy into memory."""
    metadata = check_servable(model_dir)
    path = model_dir / metadata["serving"]["onnx"]
    coach = (metadata["serving"].get("coach") or {}).get("path")
    try:
        return ModelSnapshot(
            model_dir, metadata, path.read_bytes(), (model_dir / coach).read_bytes() if coach else None
        )
    except OSError as exc:
        raise UserError(
            f"Cannot read {exc.filename or path}: {exc}. Copy the model folder again, or export it "
            f"again from its checkpoint (`rlrt export --model-dir {model_dir}`)."
        ) from exc


def _session(ort: Any, model: bytes, options: Any, path: Path) -> Any:
    """An ONNX Runtime session of ``model`` (read from ``path``), or a UserError naming the file."""
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise UserError(f"ONNX Runtime cannot load {path}: {exc}") from exc


class OnnxPolicy:
    """A model's ONNX policy in ONNX Runtime: ``predict(observations) -> {output name: array}``."""

    def __init__(self, model: Path | ModelSnapshot, threads: int = 1) -> None:
        import onnxruntime as ort  # heavy: ONNX Runtime (serving only)

        snapshot = model if isinstance(model, ModelSnapshot) else read_snapshot(model)
        self.model_dir = snapshot.model_dir
        self.metadata = snapshot.metadata
        self.observation_dim = observation_dim_from_metadata(self.metadata)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = _session(ort, snapshot.onnx, options, snapshot.onnx_path)
        self.outputs: list[str] = [o.name for o in self.session.get_outputs()]
        self.coach = (
            None
            if snapshot.coach is None
            else CoachModel(
                _session(
                    ort, snapshot.coach, options, snapshot.model_dir / snapshot.metadata["serving"]["coach"]["path"]
                )
            )
        )

    def predict(self, observations: np.ndarray) -> dict[str, np.ndarray]:
        """Run the policy on a float32 ``[n, observation_dim]`` batch."""
        results = self.session.run(None, {OBSERVATIONS: np.ascontiguousarray(observations, dtype=np.float32)})
        return dict(zip(self.outputs, results))
