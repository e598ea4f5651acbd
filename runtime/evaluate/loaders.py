"""Find a trained model and load its policy for :mod:`runtime.evaluate.evaluator`.

A model is a folder written by ``rlrt train`` (``metadata.json``), a ``model.tar.gz`` of one, or a folder a backend
recognises as its own model without ``metadata.json`` (the Batch RL seed's checkpoint channel: a d3rlpy
``model.d3``). Its ``metadata.json`` ``framework`` names the backend that loads its policy
(:meth:`runtime.contracts.BackendFactory.load_actor`); a framework no backend reads is played through its exported
ONNX policy when it has one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from runtime.contracts import Actor, Plugins
from runtime.errors import UserError
from runtime.export.policy import ActionHead, env_action
from runtime.names import CONFIG_JSON
from runtime.serving.model_store import OnnxPolicy, locate_model, read_metadata


def onnx_actor(model_dir: Path) -> Actor:
    """Any model with an exported ONNX policy."""
    policy = OnnxPolicy(model_dir)
    head = (policy.metadata.get("serving") or {}).get("head")
    action_head = ActionHead.from_json(head) if head else None

    def act(observation: np.ndarray) -> Any:
        action = policy.predict(np.asarray(observation, dtype=np.float32).reshape(1, -1))["actions"][0]
        return env_action(action_head, np.asarray(action))

    return act


def load_actor(model_dir: Path, metadata: Mapping[str, Any], plugins: Plugins) -> Actor:
    """The policy of the model in ``model_dir``: loaded by the backend that wrote it, else its ONNX policy."""
    backend = plugins.backend_for_model(metadata)
    if backend is not None:
        return backend.load_actor(model_dir, metadata)
    if (metadata.get("serving") or {}).get("onnx"):
        return onnx_actor(model_dir)
    raise UserError(
        f"Cannot evaluate a model of framework {metadata.get('framework', '')!r} from {model_dir}: known frameworks "
        f"are {', '.join(sorted(b.name for b in plugins.backends))}, and the model has no exported ONNX policy."
    )


def locate(source: Path, plugins: Plugins, framework: str | None = None) -> tuple[Path, dict[str, Any]]:
    """The model folder for ``source`` and its metadata. A folder without ``metadata.json`` that a backend recognises
    (a d3rlpy checkpoint) is taken as that backend's model; ``framework`` says only that kind is expected (the
    ``evaluate-offline`` alias), so a folder without one is reported as such."""
    source = Path(source).resolve()
    try:
        model_dir = locate_model(source)
    except UserError:
        found = plugins.find_model(source, framework)
        if found is None:
            raise
        return found
    return model_dir, read_metadata(model_dir)


def trained_env_config(model_dir: Path) -> dict[str, Any]:
    """The ``env_config`` the model was trained with (its ``config.json``), or {}."""
    try:
        return dict(json.loads((model_dir / CONFIG_JSON).read_text()).get("env_config") or {})
    except (OSError, ValueError, AttributeError):
        return {}
