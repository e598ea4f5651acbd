"""``BACKEND`` of the d3rlpy backend: which algorithms it trains, and its model I/O (the serving model of a model
folder, a model's greedy policy for evaluation, a bare ``model.d3`` checkpoint recognised as a model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from runtime.backends.d3rlpy.backend import D3rlpySession
from runtime.backends.d3rlpy.config import ALGORITHMS, D3rlpyValidator, is_offline_algorithm
from runtime.backends.d3rlpy.config_keys import quick_problems
from runtime.backends.d3rlpy.library import load_algo
from runtime.backends.d3rlpy.policy import serving_model_from_model_dir
from runtime.config.threads import ACTING_THREADS, use_threads
from runtime.contracts import Actor, BackendContext, BackendFactory
from runtime.errors import UserError
from runtime.export.policy import ServingModel
from runtime.names import D3RLPY_MODEL_FILE, METADATA_JSON

FRAMEWORK = "d3rlpy"


def find_d3rlpy_model(root: Path) -> Path:
    """The d3rlpy model file under ``root``: ``model.d3`` in a model folder, or in its newest checkpoint."""
    if root.is_file() and root.name.endswith(".d3"):
        return root
    candidates = sorted(root.rglob(D3RLPY_MODEL_FILE)) if root.is_dir() else []
    if not candidates:
        found = sorted(p.name for p in root.rglob("*") if p.is_file())[:8] if root.is_dir() else []
        raise UserError(
            f"No d3rlpy model ({D3RLPY_MODEL_FILE}) under {root}"
            + (f"; found: {', '.join(found)}." if found else " (the folder is empty).")
            + " Pass the /opt/ml/model output of an offline training job (its model.tar.gz, extracted)."
        )
    # Prefer a model folder's own file (checkpoint/model.d3 next to metadata.json), else the newest checkpoint.
    with_metadata = [
        c for c in candidates if (c.parent / METADATA_JSON).is_file() or (c.parent.parent / METADATA_JSON).is_file()
    ]
    return (with_metadata or candidates)[-1]


def _metadata_near(model_file: Path) -> dict[str, Any]:
    """metadata.json next to a d3rlpy model file (or one level up), or {}."""
    for folder in (model_file.parent, model_file.parent.parent):
        path = folder / METADATA_JSON
        if path.is_file():
            try:
                metadata: dict[str, Any] = json.loads(path.read_text())  # `rlrt train` writes an object
                return metadata
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} is not valid JSON: {exc}") from exc
    return {}


class D3rlpyBackendFactory(BackendFactory):
    """The d3rlpy backend (see :class:`runtime.contracts.BackendFactory`)."""

    name = FRAMEWORK
    algorithms = tuple(ALGORITHMS)
    distributed = False
    """Offline training runs on the first host."""

    def claims(self, algorithm: str) -> bool:
        """One of :attr:`algorithms`, or an alias of one (Coach's ``DDQN_BCQ``)."""
        return is_offline_algorithm(algorithm)

    def validator(self) -> D3rlpyValidator:
        return D3rlpyValidator()

    def quick_check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        """The validator's problems with ``config`` from ``config_keys.json`` (no d3rlpy or torch import)."""
        return quick_problems(algorithm, config)

    def create(self, context: BackendContext) -> D3rlpySession:
        return D3rlpySession(context)

    def serving_model(self, model_dir: Path) -> ServingModel:
        return serving_model_from_model_dir(model_dir)

    def load_actor(self, model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
        """The model's greedy policy, loaded by d3rlpy itself from ``metadata['model_file']`` (or the newest
        ``model.d3`` under the folder)."""
        use_threads(ACTING_THREADS)  # one observation at a time (runtime.config.threads)
        named = metadata.get("model_file")
        model_file = model_dir / str(named) if named else find_d3rlpy_model(model_dir)
        try:
            algo = load_algo(model_file, device="cpu:0")
        except Exception as exc:  # a corrupt or foreign file: the user's to fix
            raise UserError(f"Cannot load the d3rlpy model {model_file}: {type(exc).__name__}: {exc}") from exc
        return lambda observation: algo.predict(np.asarray(observation, dtype=np.float32)[None])[0]

    def find_model(self, source: Path, required: bool = False) -> tuple[Path, dict[str, Any]] | None:
        """A folder holding a d3rlpy ``model.d3`` (a checkpoint; the Batch RL seed's ``checkpoint`` channel) is taken
        as a d3rlpy model."""
        holds_one = (source.is_file() and source.name.endswith(".d3")) or (
            source.is_dir() and any(source.rglob(D3RLPY_MODEL_FILE))
        )
        if not holds_one and not required:
            return None
        model_file = find_d3rlpy_model(source)  # required and none: the UserError says what the folder holds
        return model_file.parent, {**_metadata_near(model_file), "framework": FRAMEWORK, "model_file": str(model_file)}


BACKEND = D3rlpyBackendFactory()
