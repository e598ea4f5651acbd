"""Warm start, for every backend: a new job's policy starts from the weights of a previous model, its counters fresh.

The source is, first found: the ``pretrained`` channel; the ``pretrained_model`` hyperparameter (a local path); the
environment family's own names (DeepRacer's ``pretrained_s3_bucket`` / ``pretrained_s3_prefix``,
:meth:`runtime.contracts.TrainingHooks.pretrained`). It may be a model folder written by ``rlrt train`` (or its
``model.tar.gz``, or a folder holding one), ``output/data/checkpoint``, a checkpoint folder, or a ``checkpoints/``
folder (its newest). The checkpoint's ``rlrt_state.json`` records the algorithm, environment and spaces that wrote it;
they are checked against this job's (:func:`runtime.train.checkpoints.identity_mismatch`) and a mismatch is a
UserError naming both. The session loads the weights with its ``load_weights(checkpoint)`` (by default its
``restore``); the driver's counters start at zero. A job that resumes from its own checkpoints ignores the warm start.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.contracts import TrainingHooks, TrainingSession
from runtime.errors import UserError
from runtime.job.environment import JobEnvironment
from runtime.names import CHANNEL_PRETRAINED, CHECKPOINT_DIR, METADATA_JSON, STATE_FILE
from runtime.serving.model_store import locate_model, read_metadata
from runtime.train.checkpoints import CheckpointManager, TrainingState, identity_mismatch


def pretrained_source(job: JobEnvironment, spec: TrainingSpec, hooks: TrainingHooks) -> tuple[Path, str] | None:
    """The model to warm-start from and how it was named, or None."""
    if job.channel_dir(CHANNEL_PRETRAINED).is_dir():
        return job.channel_dir(CHANNEL_PRETRAINED), f"the '{CHANNEL_PRETRAINED}' channel"
    named = spec.extras.get(hp.PRETRAINED_MODEL)
    if named:
        path = Path(str(named)).expanduser()
        if not path.exists():
            raise UserError(
                f"{hp.PRETRAINED_MODEL} names {path}, which does not exist: give a model folder, its "
                f"model.tar.gz or a checkpoint folder (or pass it in the '{CHANNEL_PRETRAINED}' channel)."
            )
        return path, f"the {hp.PRETRAINED_MODEL} hyperparameter"
    return hooks.pretrained(spec)


def pretrained_checkpoint(source: Path) -> Path:
    """The checkpoint folder (holding ``rlrt_state.json``) inside ``source``; UserError saying what was found."""
    source = Path(source).resolve()
    if source.is_dir() and (source / STATE_FILE).is_file():
        return source
    newest = CheckpointManager(source).latest() if source.is_dir() else None
    if newest is not None:
        return newest
    try:
        model_dir = locate_model(source)
    except UserError as exc:
        raise UserError(f"The pretrained model {source} is no model: {exc}") from None
    checkpoint = model_dir / str(read_metadata(model_dir).get("checkpoint") or CHECKPOINT_DIR)
    if not (checkpoint / STATE_FILE).is_file():
        raise UserError(
            f"The pretrained model {source} has no rlrt checkpoint ({checkpoint / STATE_FILE} is "
            f"missing next to its {METADATA_JSON}): give a model written by `rlrt train`."
        )
    return checkpoint


def warm_start(
    session: TrainingSession,
    job: JobEnvironment,
    spec: TrainingSpec,
    hooks: TrainingHooks,
    expected: TrainingState,
    out: TextIO,
) -> None:
    """Load the weights of the pretrained model, if one is named, into ``session`` (checked against ``expected``)."""
    found = pretrained_source(job, spec, hooks)
    if found is None:
        return
    source, named_by = found
    checkpoint = pretrained_checkpoint(source)
    try:
        stored = CheckpointManager.read_state(checkpoint)
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(
            f"The pretrained model {source} ({named_by}): {checkpoint / STATE_FILE} is unreadable: {exc}"
        ) from None
    differences = identity_mismatch(stored, expected)
    if differences:
        raise UserError(
            f"The pretrained model {source} ({named_by}) was trained as {stored.algorithm or '?'} on "
            f"{stored.env or '?'} ({stored.observation_space or '?'} -> {stored.action_space or '?'}); this job "
            f"trains {expected.algorithm} on {expected.env} ({expected.observation_space or '?'} -> "
            f"{expected.action_space or '?'}). It differs in: "
            + "; ".join(differences)
            + ". Warm-start only from a model of the same algorithm, environment and spaces."
        )
    try:
        session.load_weights(checkpoint)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the framework raises on weights it cannot take
        raise UserError(
            f"The pretrained model {source} ({named_by}) does not load into this job: {type(exc).__name__}: {exc}"
        ) from None
    print(
        f"rlrt: warm start from {checkpoint} ({named_by}: {stored.algorithm} on {stored.env}, trained "
        f"{stored.training_iteration} iteration(s), {stored.timesteps_total} steps); weights loaded, counters "
        "start at 0",
        file=out,
        flush=True,
    )
