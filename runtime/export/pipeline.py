"""Serving exports written into ``/opt/ml/model`` at the end of training (and by ``rlrt export``).

The formats are :data:`runtime.export.formats.EXPORTERS`, run in order (TorchScript, ONNX, the plain-layer
description, the TensorFlow SavedModel, SageMaker's handlers; each module's docstring says what its files are).
Every backend (RLlib online, d3rlpy offline) hands its policy over as a :class:`runtime.export.policy.ServingModel`
(a torch module, the framework's own inference, a plain-layer description). The torch module is checked against the
framework, then each format writes its files and checks them numerically (against the torch module, or an earlier
format) before it is recorded in ``metadata.json`` under ``serving``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from runtime.contracts import Plugins
from runtime.errors import UserError
from runtime.export import formats
from runtime.export.checks import (
    CHECK_SEED,
    ExportMismatch,
    check_observations,
    compare_outputs,
    export_tolerance,
    torch_outputs,
)
from runtime.export.coach_export import serving_convention
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.mlagents_export import behavior_files, check_files, unsupported
from runtime.export.mlagents_names import FOLDER as MLAGENTS_FOLDER
from runtime.export.model_dir import is_export_output
from runtime.export.policy import OBSERVATIONS, ServingModel, ServingModels, output_names
from runtime.names import METADATA_JSON, POLICIES_DIR, TF_PYTHON_ENV
from runtime.paths import guarded, make_folder, path_kind, require_file
from runtime.serving.model_store import verify_model_folder
from runtime.train.manifest import write_manifest

log = logging.getLogger(__name__)


def _check_against_framework(model: ServingModel, observations: np.ndarray, reference: list[np.ndarray]) -> float:
    """The torch module against the framework's own inference (``model.reference``); the largest error."""
    if model.reference is None:
        return 0.0
    import torch  # heavy: torch (~1.5 s)

    names = output_names(model.head)
    torch.manual_seed(CHECK_SEED)
    own = model.reference(observations)
    return compare_outputs(
        f"the serving module vs {', '.join(own)} of the framework",
        model.head,
        [reference[names.index(name)] for name in own],
        list(own.values()),
        names=list(own),
    )


def _remove_files(exporter: Exporter, dest: Path) -> None:
    """Remove what ``exporter`` wrote into ``dest`` (its export or check failed: no unchecked file stays)."""
    for name in exporter.files:
        path = dest / name.rstrip("/")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _run_exporter(exporter: Exporter, model: ExportInput, dest: Path) -> dict[str, Any]:
    """One format: skipped (saying why), or written and checked; its ``serving`` entries."""
    reason = exporter.skip_reason(model)
    if reason is not None:
        return exporter.skipped(reason)
    try:
        exporter.export(model, dest)
        return dict(exporter.check(model, dest))
    except BaseException:
        _remove_files(exporter, dest)
        raise


def _record(section: dict[str, Any], entries: Mapping[str, Any]) -> None:
    """Add a format's entries to ``section``; a mapping (``max_abs_error``) adds to the one already there."""
    for key, value in entries.items():
        if isinstance(value, Mapping) and isinstance(section.get(key), dict):
            section[key] = {**section[key], **value}
        else:
            section[key] = value


def export_serving(model_dir: Path, model: ServingModel) -> dict[str, Any]:
    """Write every serving export of ``model`` into ``model_dir`` and return the ``serving`` metadata section.

    Each format of :data:`runtime.export.formats.EXPORTERS` must be written and pass its check (its failure
    raises), unless it is optional and says why it is skipped (the TensorFlow SavedModel without ``RLRT_TF_PYTHON``
    or a plain-layer description: ``tensorflow_skipped``).
    """
    import torch  # heavy: torch (~1.5 s)

    model_dir.mkdir(parents=True, exist_ok=True)
    dim, head = model.observation_dim, model.head
    observations = check_observations(dim)
    torch.manual_seed(CHECK_SEED)
    reference = torch_outputs(model.module, observations)
    framework_error = _check_against_framework(model, observations, reference)
    section: dict[str, Any] = {
        "inputs": {OBSERVATIONS: {"shape": [None, dim], "dtype": "float32"}},
        "outputs": output_names(head),
        "head": head.to_json(),
        "observation_filter": f"{model.filter_name} (baked in: takes raw observations)" if model.obs_filter else None,
        "max_abs_error": {},
        **({"stochastic": model.stochastic} if model.stochastic else {}),
        **dict(model.extra),
    }
    with tempfile.TemporaryDirectory(prefix="rlrt-export-") as scratch:
        tolerance = export_tolerance(model, observations, reference)
        run = ExportInput(model, observations, reference, Path(scratch), tolerance, serving_convention(model_dir))
        for exporter in formats.EXPORTERS:
            _record(section, _run_exporter(exporter, run, model_dir))
    if model.reference is not None:
        section["max_abs_error"]["framework"] = framework_error
    return section


def _policy_folder(policy_id: str) -> str:
    """A folder name for a policy id (``3DBall_team=0`` stays as it is; other characters become ``_``)."""
    name = "".join(c if c.isalnum() or c in "._=-" else "_" for c in policy_id).lstrip(".")
    return name or "_"


def _under(folder: str, section: dict[str, Any]) -> dict[str, Any]:
    """A policy's ``serving`` section with its file names (an entry, or an entry's ``path``, that is one of the
    formats' :attr:`Exporter.files`) made relative to the model folder."""
    paths = formats.export_paths()
    moved = dict(section)
    for key, value in section.items():
        if isinstance(value, str) and value in paths:
            moved[key] = f"{folder}/{value}"
        elif isinstance(value, Mapping) and value.get("path") in paths:
            moved[key] = {**value, "path": f"{folder}/{value['path']}"}
    return moved


def export_policies(model_dir: Path, models: Mapping[str, ServingModel]) -> dict[str, Any]:
    """A multi-agent model's exports: each policy's in ``policies/<policy id>/``, the same files as a single policy's;
    the ``serving`` section lists them under ``policies`` (``rlrt serve`` serves one, chosen by ``RLRT_POLICY``)."""
    if not models:
        raise ValueError("a multi-agent model with no policy to export")
    shutil.rmtree(model_dir / POLICIES_DIR, ignore_errors=True)
    shutil.rmtree(model_dir / MLAGENTS_FOLDER, ignore_errors=True)
    policies: dict[str, Any] = {}
    for policy_id, model in models.items():
        folder = f"{POLICIES_DIR}/{_policy_folder(policy_id)}"
        policies[policy_id] = _hoist_mlagents(
            model_dir, folder, _under(folder, export_serving(model_dir / folder, model))
        )
    return {"policies": policies}


def _hoist_mlagents(model_dir: Path, folder: str, section: dict[str, Any]) -> dict[str, Any]:
    """A multi-agent model's ML-Agents files side by side in ``mlagents/`` (a Unity game's behaviors, as a game
    developer looks for them), not under each policy; a name two policies share gets the second's policy folder."""
    files = section.get("mlagents")
    if not isinstance(files, list):
        return section
    moved = []
    for name in files:
        source = model_dir / folder / name
        target = model_dir / MLAGENTS_FOLDER / source.name
        if target.exists():
            target = target.with_name(f"{Path(folder).name}.onnx")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
        moved.append(target.relative_to(model_dir).as_posix())
    shutil.rmtree(model_dir / folder / MLAGENTS_FOLDER, ignore_errors=True)
    return {**section, "mlagents": moved}


def _written(section: Mapping[str, Any]) -> list[str]:
    """The file each format recorded in one policy's ``serving`` section, with what it is, for the job's log."""
    written = []
    for exporter in formats.EXPORTERS:
        entry = section.get(exporter.name)
        path = entry.get("path") if isinstance(entry, Mapping) else entry
        for one in path if isinstance(path, list) else [path]:
            if isinstance(one, str):
                written.append(f"{one} ({exporter.title})")
    return written


def update_metadata(model_dir: Path, section: dict[str, Any]) -> None:
    """Add the ``serving`` section to ``model_dir/metadata.json`` (atomically)."""
    path = model_dir / METADATA_JSON
    metadata = json.loads(path.read_text()) if path.exists() else {}
    metadata["serving"] = section
    tmp = path.with_suffix(".json.tmp")
    try:
        tmp.write_text(json.dumps(metadata, indent=2))
        tmp.replace(path)
    finally:  # a full disk: no half-written metadata.json.tmp stays
        tmp.unlink(missing_ok=True)


CHECK_HELP = (
    "rewrite nothing: check a Unity model's mlagents/<Behavior>.onnx files by ML-Agents' loader rules and "
    "against the policy in the checkpoint"
)
"""``rlrt export --check``."""


def export_model_folder(model_dir: Path, plugins: Plugins, stream: Any = None, check: bool = False) -> dict[str, Any]:
    """``rlrt export``: (re)write the serving exports of an existing model folder, its serving model rebuilt from the
    checkpoint by the backend that wrote it (``metadata.json`` ``framework``); any error ends the command. With
    ``check`` (``--check``): :func:`check_mlagents_folder` instead, rewriting nothing."""
    if check:
        check_mlagents_folder(model_dir, plugins, stream)
        return {}
    path = model_dir / METADATA_JSON
    _require_model_folder(model_dir)
    verify_model_folder(model_dir, skip=is_export_output)  # what it reads; the exports it rewrites may be gone
    metadata = json.loads(path.read_text()) if path.is_file() else {}
    backend = plugins.require_backend_for_model(model_dir, metadata)
    make_folder(model_dir, "The --model-dir folder")  # it is rewritten: a read-only one fails before any work
    with guarded(model_dir, "The --model-dir folder"):
        section = export_serving_models(
            model_dir, lambda: backend.serving_model(model_dir), stream, explain_no_savedmodel=True
        )
        write_manifest(model_dir)  # the new exports are the folder's files now
    return section


def check_mlagents_folder(model_dir: Path, plugins: Plugins, stream: Any = None) -> None:
    """``rlrt export --check``: ML-Agents' loader rules on the model folder's ``mlagents/<Behavior>.onnx`` files as
    they are, their deterministic actions against the policy rebuilt from the checkpoint; one line per file. A
    broken or missing file, or a folder with no Unity policy, is a UserError."""
    out = stream or sys.stdout
    _require_model_folder(model_dir)
    verify_model_folder(model_dir)  # the files checked are the ones the manifest lists
    metadata = json.loads((model_dir / METADATA_JSON).read_text())
    models = plugins.require_backend_for_model(model_dir, metadata).serving_model(model_dir)
    checked = 0
    for model in models.values() if isinstance(models, Mapping) else [models]:
        reason = unsupported(model)
        if model.unity is None:
            continue
        if reason is not None:
            print(f"rlrt: no ML-Agents ONNX for Unity: {reason}", file=out, flush=True)
            continue
        for name in behavior_files(model):
            path = model_dir / MLAGENTS_FOLDER / name
            if not path.is_file():
                raise UserError(f"{path} is missing: `rlrt export --model-dir {model_dir}` writes it.")
            try:
                error = check_files(model, [path])
            except ExportMismatch as exc:
                raise UserError(f"{exc}. `rlrt export --model-dir {model_dir}` writes it again.") from exc
            checked += 1
            print(
                f"rlrt: {MLAGENTS_FOLDER}/{name} passes ML-Agents' loader rules (deterministic actions within "
                f"{error:.2g} of the policy)",
                file=out,
                flush=True,
            )
    if not checked:
        raise UserError(
            f"--model-dir {model_dir} holds no Unity policy: --check checks ML-Agents' ONNX files, which "
            "only Unity jobs have."
        )


def _require_model_folder(model_dir: Path) -> None:
    """``rlrt export`` rewrites a model folder in place: a model.tar.gz, a file, or a folder without
    ``metadata.json`` is named for what it is (not "damaged")."""
    kind = path_kind(model_dir)
    if kind == "a folder" and (model_dir / METADATA_JSON).is_file():
        return
    if kind == "a file" and model_dir.name.endswith((".tar.gz", ".tgz", ".tar")):
        raise UserError(
            f"--model-dir {model_dir} is a model archive, not a model folder: `rlrt export` rewrites the "
            f"folder in place. Unpack it first (mkdir model && tar -xzf {model_dir} -C model) and give "
            "--model-dir model."
        )
    if kind == "a folder":
        found = ", ".join(sorted(p.name for p in model_dir.iterdir())[:10]) or "nothing"
        raise UserError(
            f"--model-dir {model_dir} is not a model folder: it has no {METADATA_JSON} (found: {found}). "
            "Give the model folder a training job wrote (`rlrt train`'s model/, or /opt/ml/model)."
        )
    require_file(model_dir, "--model-dir")  # nothing there, a broken link: said so
    raise UserError(
        f"--model-dir {model_dir} is {kind}, not a model folder. Give the model folder a training job "
        "wrote (`rlrt train`'s model/, or /opt/ml/model)."
    )


def export_failure(exc: BaseException) -> str:
    """How an export error reads in ``metadata.json`` and the job's failure: a user error's own words, else its type
    and message."""
    return str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"


def export_serving_models(
    model_dir: Path,
    model: ServingModels | Callable[[], ServingModels],
    stream: Any = None,
    explain_no_savedmodel: bool | None = None,
) -> dict[str, Any]:
    """THE export step at the end of training (and ``rlrt export``): export ``model`` (a :class:`ServingModel`, one
    per policy id, or a callable returning either, so that an error building it is reported like an export error),
    record it in ``metadata.json`` and say what was written.

    A model that cannot be exported (an unsupported space or network, a failed numeric check) is recorded in
    ``metadata.json`` (``serving.error``) and the error raised: the training job fails with its checkpoint kept,
    ``rlrt export`` ends.

    Why there is no TensorFlow SavedModel is said when ``explain_no_savedmodel`` (``rlrt export``), or by default
    when one was asked for (``RLRT_TF_PYTHON`` is set); ``metadata.json`` records it either way.
    """
    out = stream or sys.stdout
    if explain_no_savedmodel is None:
        explain_no_savedmodel = bool(os.environ.get(TF_PYTHON_ENV, "").strip())
    started = time.monotonic()
    try:
        if callable(model) and not isinstance(model, ServingModel):
            model = model()
        section = export_policies(model_dir, model) if isinstance(model, Mapping) else export_serving(model_dir, model)
        update_metadata(model_dir, section)
    except Exception as exc:
        reason = export_failure(exc)
        log.debug("serving export failed", exc_info=True)
        update_metadata(model_dir, {"error": reason[:2000]})
        raise
    policies = section.get("policies") or {None: section}
    written = [name for policy in policies.values() for name in _written(policy)]
    print(f"rlrt: serving exports ({time.monotonic() - started:.1f} s): {', '.join(written)}", file=out, flush=True)
    skipped = sorted(
        {str(policy["tensorflow_skipped"]) for policy in policies.values() if policy.get("tensorflow_skipped")}
    )
    for reason in skipped if explain_no_savedmodel else []:
        print(f"rlrt: no TensorFlow SavedModel: {reason}", file=out, flush=True)
    for reason in sorted(
        {str(policy["mlagents_skipped"]) for policy in policies.values() if policy.get("mlagents_skipped")}
    ):
        print(f"rlrt: no ML-Agents ONNX for Unity: {reason}", file=out, flush=True)
    return section
