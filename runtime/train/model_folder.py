"""The training job's model folder: written all or nothing at the end of training, or from the checkpoint a
SIGTERM/SIGINT kept, and recognised when a resumed job's folder already holds its model.

The loop driver (:mod:`runtime.train.driver`) calls these; the folder's files are :mod:`runtime.export.model_dir`'s,
its exports the export pipeline's, its manifest :mod:`runtime.train.manifest`'s.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping, TextIO

from runtime.config.spec import TrainingSpec
from runtime.contracts import TrainingHooks, TrainingSession
from runtime.errors import JobInterrupted, UserError
from runtime.export.model_dir import STAGING_DIR, publish_model_folder, write_model_dir, write_output_checkpoint
from runtime.export.pipeline import export_failure, export_serving_models
from runtime.job.environment import JobEnvironment
from runtime.names import CHECKPOINT_DIR, METADATA_JSON, OUTPUT_CHECKPOINT_DIR
from runtime.paths import describe_os_error, guarded
from runtime.stop_signals import FINISH, FINISH_BUDGET_S, HOLD, STOPS
from runtime.timings import mark
from runtime.train.checkpoints import TrainingState
from runtime.train.manifest import verify_manifest, write_manifest
from runtime.train.reporting import IterationMetrics


def model_is_current(model_dir: Path, state: TrainingState) -> bool:
    """Whether ``model_dir`` holds a complete model folder (its manifest verifies) of ``state``'s iteration."""
    try:
        training = json.loads((model_dir / METADATA_JSON).read_text()).get("training", {})
    except (OSError, ValueError, AttributeError):
        return False
    return (
        isinstance(training, dict)
        and training.get("training_iteration") == state.training_iteration
        and training.get("timesteps_total") == state.timesteps_total
        and verify_manifest(model_dir).status == "intact"
    )


def kept_checkpoint(checkpoint: Path) -> str:
    """The sentence a stopped or failed job's message starts with: where its last checkpoint is."""
    return f"The checkpoint {checkpoint} is kept (a new job in this tree resumes from it)."


def model_after_stop(
    job: JobEnvironment,
    backend: TrainingSession,
    hooks: TrainingHooks,
    checkpoint: Path,
    spec: TrainingSpec,
    state: TrainingState,
    metrics: IterationMetrics | None,
    out: TextIO,
) -> str:
    """After SIGTERM/SIGINT stopped the training: the model folder from the checkpoint just kept, so that an
    interrupted job is evaluable and servable, unless a second signal comes or it takes longer than
    ``FINISH_BUDGET_S``; returns what the job kept, as the failure file says it."""
    kept = kept_checkpoint(checkpoint)
    if state.timesteps_total <= 0:
        return f"{kept} No step was trained: {job.model_dir} was not written."
    print(
        f"rlrt: writing {job.model_dir} from {checkpoint.name} (iteration {state.training_iteration})",
        file=out,
        flush=True,
    )
    try:
        info, extra = backend.finish()
        training = {
            **asdict(state),
            "stopped_by": STOPS.signal_name,
            **extra,
            **({"final": asdict(metrics)} if metrics else {}),
        }
        with STOPS.phase_of("writing the model folder", FINISH):
            write_model_folder(job, backend, hooks, checkpoint, spec, info, training, out)
    except JobInterrupted:
        return f"{kept} {job.model_dir} was not written (a second signal, or it took over {FINISH_BUDGET_S:g} s)."
    except UserError as exc:  # the model cannot be served: its checkpoint is in model/
        return f"{kept} {exc}"
    except Exception as exc:  # noqa: BLE001 - the stop is the job's reason; this is what it could not keep
        return f"{kept} {job.model_dir} was not written: {type(exc).__name__}: {exc}"
    return f"{kept} {job.model_dir} holds the policy at iteration {state.training_iteration} (it evaluates and serves)."


def write_model_folder(
    job: JobEnvironment,
    backend: TrainingSession,
    hooks: TrainingHooks,
    checkpoint: Path,
    spec: TrainingSpec,
    info: Any,
    training: Mapping[str, Any],
    out: TextIO,
) -> None:
    """The model folder, all or nothing: the checkpoint, ``metadata.json`` and every serving export are written into
    a staging folder, the exports checked, then moved into ``model/`` and the manifest written last (a folder
    caught between the two fails its manifest's check by name); a signal meanwhile is held until that is done, and a
    second one abandons the staging folder. A model that cannot be served keeps its checkpoint
    (and ``metadata.json`` saying why) and fails the job: exit 0 promises a model that loads and serves."""
    staging = job.model_dir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    unservable: Exception | None = None
    try:
        write_model_dir(staging, checkpoint, spec, info, training)
        backend.write_model(staging)
        mark("model folder")
        try:
            export_serving_models(staging, lambda: backend.serving_model(staging), out)
        except (OSError, shutil.Error):
            raise  # the disk, not the model: below
        except Exception as exc:  # noqa: BLE001 - the job's failure, once the checkpoint is in model/
            unservable = exc
        mark("exported")
    except (OSError, shutil.Error) as exc:  # a full or read-only disk: no half-written model folder stays
        shutil.rmtree(staging, ignore_errors=True)
        raise UserError(
            describe_os_error(job.model_dir, exc, "The model folder") + " The checkpoint is kept in "
            f"{checkpoint}: a new job in this tree resumes from it and writes the model."
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with STOPS.phase_of("publishing the model folder", HOLD):  # renames: quick, and never left half done
        with guarded(job.model_dir, "The model folder"):
            publish_model_folder(staging, job.model_dir)
        hooks.on_export(job.model_dir)
        write_manifest(job.model_dir)  # last: serve, evaluate, export and warm starts verify the folder by it
        write_output_checkpoint(job.base_dir / OUTPUT_CHECKPOINT_DIR, job.model_dir)  # a UserError naming it
    if unservable is not None:
        raise UserError(
            f"Training finished, but the model cannot be served: {export_failure(unservable)} The "
            f"checkpoint is kept in {job.model_dir / CHECKPOINT_DIR} (a new job in this tree resumes from "
            "checkpoints/)."
        )
