"""Find a trained model and load its policy for :mod:`runtime.evaluate.evaluator`.

A model is a folder written by ``rlrt train`` (``metadata.json``), a ``model.tar.gz`` of one, or (the Batch RL
seed's checkpoint channel) a folder holding a d3rlpy ``model.d3``. Its ``metadata.json`` ``framework`` picks the
loader (:data:`LOADERS`: ``"module:function"`` taking the model folder and its metadata, returning one observation
-> one action); a framework without a loader is played through its exported ONNX policy when it has one.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from runtime.errors import UserError
from runtime.evaluate.episodes import MODEL_FILE
from runtime.names import CHECKPOINT_DIR, METADATA_JSON

Actor = Callable[[np.ndarray], Any]

D3RLPY = "d3rlpy"
LOADERS: Mapping[str, str] = MappingProxyType({
    "rllib": "runtime.evaluate.loaders:rllib_actor",
    D3RLPY: "runtime.evaluate.loaders:d3rlpy_actor",
})
"""metadata.json ``framework`` -> ``"module:function"`` of its loader (``(model_dir, metadata) -> Actor``)."""


def rllib_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """An RLlib model's deterministic policy, rebuilt from its checkpoint (the module plus its connectors)."""
    from runtime.backends.rllib.policy import serving_policy_from_checkpoint
    from runtime.evaluate.video import torch_actor

    policy, _, _ = serving_policy_from_checkpoint(model_dir / str(metadata.get("checkpoint") or CHECKPOINT_DIR))
    return torch_actor(policy)


def d3rlpy_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """A d3rlpy model's greedy policy, loaded by d3rlpy itself from ``metadata['model_file']`` (or the newest
    ``model.d3`` under the folder)."""
    import torch

    from runtime.backends.d3rlpy.backend import import_d3rlpy

    d3rlpy = import_d3rlpy()
    torch.set_num_threads(1)
    named = metadata.get("model_file")
    model_file = model_dir / str(named) if named else find_d3rlpy_model(model_dir)
    try:
        algo = d3rlpy.load_learnable(str(model_file), device="cpu:0")
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file: the user's to fix
        raise UserError(f"Cannot load the d3rlpy model {model_file}: {type(exc).__name__}: {exc}") from exc
    return lambda observation: algo.predict(np.asarray(observation, dtype=np.float32)[None])[0]


def onnx_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """Any model with an exported ONNX policy."""
    from runtime.serving.model_store import OnnxPolicy

    policy = OnnxPolicy(model_dir)

    def act(observation: np.ndarray) -> Any:
        action = policy.predict(np.asarray(observation, dtype=np.float32).reshape(1, -1))["actions"][0]
        return int(action) if np.ndim(action) == 0 else action

    return act


def load_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """The actor for ``metadata['framework']`` (its loader, else the model's ONNX policy)."""
    framework = str(metadata.get("framework", ""))
    target = LOADERS.get(framework)
    if target is None:
        if (metadata.get("serving") or {}).get("onnx"):
            return onnx_actor(model_dir, metadata)
        raise UserError(
            f"Cannot evaluate a model of framework {framework!r} from {model_dir}: known frameworks are "
            f"{', '.join(sorted(LOADERS))}, and the model has no exported ONNX policy."
        )
    module_name, function = target.split(":")
    return getattr(importlib.import_module(module_name), function)(model_dir, metadata)


def find_d3rlpy_model(root: Path) -> Path:
    """The d3rlpy model file under ``root``: ``model.d3`` in a model folder, or in its newest checkpoint."""
    if root.is_file() and root.name.endswith(".d3"):
        return root
    candidates = sorted(root.rglob(MODEL_FILE)) if root.is_dir() else []
    if not candidates:
        found = sorted(p.name for p in root.rglob("*") if p.is_file())[:8] if root.is_dir() else []
        raise UserError(
            f"No d3rlpy model ({MODEL_FILE}) under {root}"
            + (f"; found: {', '.join(found)}." if found else " (the folder is empty).")
            + " Pass the /opt/ml/model output of an offline training job (its model.tar.gz, extracted)."
        )
    # Prefer a model folder's own file (checkpoint/model.d3 next to metadata.json), else the newest checkpoint.
    with_metadata = [c for c in candidates
                     if (c.parent / METADATA_JSON).is_file() or (c.parent.parent / METADATA_JSON).is_file()]
    return (with_metadata or candidates)[-1]


def _metadata_near(model_file: Path) -> dict[str, Any]:
    """metadata.json next to a d3rlpy model file (or one level up), or {}."""
    for folder in (model_file.parent, model_file.parent.parent):
        path = folder / METADATA_JSON
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} is not valid JSON: {exc}") from exc
    return {}


def locate(source: Path, framework: str | None = None) -> tuple[Path, dict[str, Any]]:
    """The model folder for ``source`` and its metadata. A folder without ``metadata.json`` that holds a d3rlpy
    ``model.d3`` (a checkpoint) is taken as a d3rlpy model; ``framework="d3rlpy"`` says only that kind is expected
    (the ``evaluate-offline`` alias), so a folder without one is reported as such."""
    from runtime.serving.model_store import locate_model, read_metadata

    source = Path(source).resolve()
    try:
        model_dir = locate_model(source)
    except UserError:
        if framework != D3RLPY and not (source.is_dir() and any(source.rglob(MODEL_FILE))):
            raise
        model_file = find_d3rlpy_model(source)
        return model_file.parent, {**_metadata_near(model_file), "framework": D3RLPY, "model_file": str(model_file)}
    return model_dir, read_metadata(model_dir)


def trained_env_config(model_dir: Path) -> dict[str, Any]:
    """The ``env_config`` the model was trained with (its ``config.json``), or {}."""
    try:
        return dict(json.loads((model_dir / "config.json").read_text()).get("env_config") or {})
    except (OSError, ValueError, AttributeError):
        return {}
