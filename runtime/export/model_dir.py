"""What a finished job leaves in ``/opt/ml/model``: the framework checkpoint, the resolved config, metadata.json."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml
from gymnasium import spaces

from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.export import formats
from runtime.names import CHECKPOINT_DIR, CONFIG_JSON, CONFIG_YAML, MANIFEST_FILE, METADATA_JSON, POLICIES_DIR
from runtime.paths import describe_os_error

STAGING_DIR = ".rlrt-staging"
"""Inside ``model/``: where the training job writes the model folder before moving it into place."""

_VERSIONED = ("rlrt", "ray", "torch", "gymnasium", "numpy", "d3rlpy", "pybullet", "sagemaker-training")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _bounds(values: Any) -> list[Any]:
    """Bounds (flattened) as JSON numbers; infinities become the strings "inf" / "-inf" (JSON has none)."""
    return [_bound(v) for v in np.asarray(values, dtype=float).reshape(-1).tolist()]


def _bound(value: float) -> float | str:
    if value == float("inf"):
        return "inf"
    if value == float("-inf"):
        return "-inf"
    return value


def describe_space(space: Any) -> dict[str, Any]:
    """A JSON description of a gymnasium space (type, shape, dtype, bounds or n)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _bounds(space.low),
            "high": _bounds(space.high),
        }
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: describe_space(v) for k, v in space.spaces.items()}}
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [describe_space(s) for s in space.spaces]}
    return {"type": type(space).__name__, "repr": repr(space)}


def write_resolved_config(directory: Path, spec: TrainingSpec) -> None:
    """Save the resolved configuration (JSON and YAML, as RL Zoo saves config.yml next to its models)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = spec.to_dict()
    (directory / CONFIG_JSON).write_text(json.dumps(data, indent=2, sort_keys=True))
    (directory / CONFIG_YAML).write_text(yaml.safe_dump(data, sort_keys=False))


def write_model_dir(
    model_dir: Path, checkpoint: Path, spec: TrainingSpec, info: Any, training: Mapping[str, Any]
) -> None:
    """Fill ``model_dir`` with a copy of ``checkpoint``, the resolved config and ``metadata.json``.

    ``info`` (a :class:`runtime.contracts.ModelInfo`) gives the framework, the policy's spaces and further
    metadata keys; ``training`` the counters and how training ended. The serving exports are added after this by the
    export pipeline, which records them in ``metadata.json`` under ``serving``.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / CHECKPOINT_DIR
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(checkpoint, target)
    write_resolved_config(model_dir, spec)
    metadata = {
        "env": spec.env,
        "preset": spec.preset,
        "algorithm": spec.algorithm,
        "framework": info.framework,
        "checkpoint": CHECKPOINT_DIR,
        "observation_space": describe_space(info.observation_space),
        "action_space": describe_space(info.action_space),
        **dict(info.extra),
        "training": dict(training),
        "versions": library_versions(),
    }
    (model_dir / METADATA_JSON).write_text(json.dumps(metadata, indent=2, default=str))


def is_export_output(name: str) -> bool:
    """Whether ``name`` (relative to a model folder) is a file the export pipeline writes: one of the formats' files
    (:data:`runtime.export.formats.EXPORTERS`) or a multi-agent model's ``policies/``."""
    return name.split("/", 1)[0] in formats.export_names() | {POLICIES_DIR}


def publish_model_folder(staging: Path, model_dir: Path) -> None:
    """Move what ``staging`` holds into ``model_dir`` (each entry replaces the one of its name), after removing
    the exports and manifest an earlier model left (files a user's script put there stay); ``staging`` is then
    removed. Same filesystem: every move is a rename."""
    for entry in list(model_dir.iterdir()):
        if entry.name == staging.name:
            continue
        if entry.name == MANIFEST_FILE or is_export_output(entry.name) or (staging / entry.name).exists():
            _remove(entry)
    for entry in sorted(staging.iterdir()):
        entry.replace(model_dir / entry.name)
    shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def write_output_checkpoint(target: Path, model_dir: Path) -> None:
    """Copy the model's final checkpoint to ``target`` (``output/data/checkpoint``) as a model folder of its own
    (``checkpoint/``, ``metadata.json``, the resolved config; not the serving exports), so that the folder alone,
    passed in the ``checkpoint`` channel, evaluates: the Batch RL seed extracts ``output.tar.gz`` and does that.
    A copy that fails (a full or read-only disk) is removed whole, never left half, and named with what is kept."""
    try:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(model_dir / CHECKPOINT_DIR, target / CHECKPOINT_DIR)
        for name in (CONFIG_JSON, CONFIG_YAML):
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, target / name)
        metadata = json.loads((model_dir / METADATA_JSON).read_text())
        metadata.pop("serving", None)  # the exports stay in model/
        (target / METADATA_JSON).write_text(json.dumps(metadata, indent=2, default=str))
    except (OSError, shutil.Error) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise UserError(
            f"{describe_os_error(target, exc, 'The output checkpoint folder')} The model folder "
            f"{model_dir} is complete (it serves and evaluates); only its copy in {target} is "
            "missing."
        ) from exc
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
