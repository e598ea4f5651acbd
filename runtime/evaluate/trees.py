"""A model's job tree for ``rlrt evaluate``: the tree a model folder lies in (its evaluation is written beside it,
:data:`runtime.names.EVALUATION_DIR`), and an intermediate checkpoint of the tree as a model to play
(``--checkpoint N|PATH``).

A checkpoint ``checkpoints/checkpoint_<iteration>`` holds the framework's checkpoint exactly as the model folder's
``checkpoint/`` does (the model folder is a copy of one), but no ``metadata.json``: its environment, spaces and
framework are the tree's model's (the same job wrote both; the checkpoint's state file says which algorithm and
environment it is of, and a mismatch is refused). The metadata's paths into ``checkpoint/`` are pointed at the
checkpoint, its counters are the checkpoint's and its serving exports (the final policy's, not the checkpoint's) are
left out, so that what plays is what the checkpoint holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.errors import UserError
from runtime.names import (
    CHECKPOINT_DIR,
    CHECKPOINTS_DIR,
    CONFIG_DIR,
    HYPERPARAMETERS_JSON,
    METADATA_JSON,
    MODEL_DIR,
    OUTPUT_CHECKPOINT_DIR,
)
from runtime.serving.model_store import read_metadata
from runtime.train.checkpoints import CheckpointManager, TrainingState, identity_mismatch
from runtime.train.manifest import verify_manifest


def is_job_tree(path: Path) -> bool:
    """Whether ``path`` is a job tree laid out like ``/opt/ml`` (its hyperparameters file is there)."""
    return (path / CONFIG_DIR / HYPERPARAMETERS_JSON).is_file()


def tree_of(path: Path) -> Path | None:
    """The job tree ``path`` is or lies in (a tree, its ``model/``, a checkpoint, ``output/data/checkpoint``), or
    None (a model folder of its own, a ``model.tar.gz`` elsewhere)."""
    path = Path(path).resolve()
    return next((folder for folder in (path, *path.parents) if is_job_tree(folder)), None)


def find_checkpoint(given: str, tree: Path | None) -> Path:
    """The checkpoint folder ``--checkpoint`` names: an iteration number of ``tree``'s checkpoints, or a path."""
    if not given.strip().isdigit():
        path = Path(given).expanduser().resolve()
        if not path.is_dir():
            raise UserError(
                f"--checkpoint {given}: no checkpoint folder at {path}. Give a folder of the tree's "
                f"{CHECKPOINTS_DIR}/ (checkpoint_000010) or its iteration number (10)."
            )
        return path
    if tree is None:
        raise UserError(
            f"--checkpoint {given} names a checkpoint by its iteration, so --model must name the job tree "
            "that holds it (rlrt-jobs/<name>, or its model/ folder); or give the checkpoint's path."
        )
    manager = CheckpointManager(tree / CHECKPOINTS_DIR)
    found = {CheckpointManager.read_state(path).training_iteration: path for path in manager.checkpoints()}
    if int(given) not in found:
        have = ", ".join(str(n) for n in sorted(found)) or "none"
        raise UserError(
            f"--checkpoint {given}: {tree / CHECKPOINTS_DIR} holds no checkpoint of iteration {given} "
            f"(it holds iterations: {have}; a job keeps its last few, rl.training.keep_checkpoints_num)."
        )
    return found[int(given)]


def _tree_metadata(checkpoint: Path, model: Path | None) -> tuple[Path, dict[str, Any]]:
    """The model folder whose ``metadata.json`` describes ``checkpoint``'s job, and that metadata: ``model`` when it
    is a model folder, else the model folder of the tree (``model/``, else ``output/data/checkpoint``)."""
    if model is not None and (model / METADATA_JSON).is_file():
        return model, read_metadata(model)
    tree = tree_of(model) if model is not None else tree_of(checkpoint)
    folders = [tree / MODEL_DIR, tree / OUTPUT_CHECKPOINT_DIR] if tree is not None else []
    for folder in folders:
        if (folder / METADATA_JSON).is_file():
            return folder, read_metadata(folder)
    where = " or ".join(str(folder / METADATA_JSON) for folder in folders) or f"a job tree above {checkpoint}"
    raise UserError(
        f"Cannot evaluate the checkpoint {checkpoint}: its environment, spaces and framework are "
        f"recorded in the model folder of its job, and there is none ({where} is missing). Resume the "
        "job to write one (rlrt train --base-dir <tree>), or give that model folder with --model."
    )


def checkpoint_model(checkpoint: Path, model: Path | None) -> tuple[Path, dict[str, Any]]:
    """(model folder, metadata) that play ``checkpoint`` (see the module's docstring); ``model``: the tree or model
    folder ``--model`` named, if any."""
    verified = verify_manifest(checkpoint)
    if verified.damaged:
        raise UserError(
            f"The checkpoint {checkpoint} is damaged ({'; '.join(verified.problems)}): evaluate another one."
        )
    try:
        state = CheckpointManager.read_state(checkpoint)
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(
            f"{checkpoint} is not a checkpoint of an rlrt job (its state file cannot be read: {exc}). "
            f"Give a folder of a tree's {CHECKPOINTS_DIR}/ or its iteration number."
        ) from exc
    model_dir, metadata = _tree_metadata(checkpoint, model)
    job = TrainingState(algorithm=str(metadata.get("algorithm") or ""), env=str(metadata.get("env") or ""))
    differences = identity_mismatch(state, job)
    if differences:
        raise UserError(
            f"The checkpoint {checkpoint} is not of the model in {model_dir}: it has "
            + "; ".join(d.replace("this job", "the model") for d in differences)
            + "."
        )
    played = {key: _into(value, checkpoint) for key, value in metadata.items() if key != "serving"}
    played["training"] = {
        "training_iteration": state.training_iteration,
        "timesteps_total": state.timesteps_total,
        "episodes_total": state.episodes_total,
        "time_total_s": state.time_total_s,
    }
    return model_dir, played


def _into(value: Any, checkpoint: Path) -> Any:
    """A metadata path into the model folder's ``checkpoint/`` as the same path into ``checkpoint``."""
    if isinstance(value, str) and (value == CHECKPOINT_DIR or value.startswith(CHECKPOINT_DIR + "/")):
        return str(checkpoint / value[len(CHECKPOINT_DIR) :].lstrip("/"))
    return value
