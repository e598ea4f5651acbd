"""The one job setup every command goes through: find the ``/opt/ml`` tree, load the environment, clear a stale
failure, merge command-line overrides, resolve hyperparameters, and end through the single failure path.

- :func:`run_in_job` runs a command's body inside a job (``rlrt train``, ``evaluate``, ``deepracer-evaluate``, ...);
- :func:`resolve_spec` turns hyperparameters into a checked :class:`TrainingSpec` (the backend's validator and the
  environment family's dialect) for ``rlrt train`` and ``rlrt tune`` alike;
- :func:`runtime.job.env_config.job_env_config` maps the job's channels into an environment's ``env_config``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from runtime.config import hyperparameters as hp
from runtime.config.presets import DEFAULT_PRESET
from runtime.contracts import Plugins
from runtime.errors import TreeBusy, UserError, run_job
from runtime.job.context import Job
from runtime.job.environment import load_environment, prepare_local_tree
from runtime.names import (
    BASE_DIR_ENV,
    CONFIG_DIR,
    DEFAULT_BASE_DIR,
    FAILURE_FILE,
    HYPERPARAMETERS_JSON,
    JOB_LOCK_FILE,
    RESOURCE_CONFIG_JSON,
)
from runtime.stop_signals import STOPS

LOCAL_JOBS_DIR = Path("rlrt-jobs")


def find_base_dir(base_dir: Path | None, preset_hint: str) -> tuple[Path, bool]:
    """Where this job's tree is, and whether it is a local tree we create (not one SageMaker or docker made).

    Order: an explicit ``--base-dir``; ``$SAGEMAKER_BASE_DIR``; ``/opt/ml`` when it holds a job configuration
    (SageMaker, ``docker run``); else a new folder ``./rlrt-jobs/<preset>-<time>`` laid out like ``/opt/ml``.
    """
    if base_dir is not None:
        return base_dir.resolve(), not (base_dir / CONFIG_DIR / RESOURCE_CONFIG_JSON).is_file()
    if os.environ.get(BASE_DIR_ENV):
        path = Path(os.environ[BASE_DIR_ENV]).resolve()
        return path, not (path / CONFIG_DIR / RESOURCE_CONFIG_JSON).is_file()
    if (DEFAULT_BASE_DIR / CONFIG_DIR / HYPERPARAMETERS_JSON).is_file():
        return DEFAULT_BASE_DIR, False
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (LOCAL_JOBS_DIR / f"{preset_hint}-{stamp}").resolve(), True


def open_job(root: Path, local: bool, overrides: Mapping[str, Any]) -> Job:
    """Lay out a local tree if needed, load the environment, clear a stale failure and merge the overrides.

    In a local tree the overrides are written into ``hyperparameters.json``, so a rerun in the same tree runs (and
    resumes) the same configuration; in a SageMaker tree they are layered on top of it.
    """
    if root.exists() and not root.is_dir():
        raise UserError(f"The job tree {root} is a file, not a folder (--base-dir or {BASE_DIR_ENV} names it): give "
                        "a folder, new or laid out like /opt/ml.")
    stored: dict[str, Any] | None = None  # a local tree's hyperparameters before this run's --set is written in
    if local:
        try:
            stored = prepare_local_tree(root, overrides)
        except OSError as exc:
            raise UserError(f"Cannot lay out the job tree in {root}: {exc.strerror or exc} ({exc.filename or root}). "
                            "Give a folder you can write (--base-dir or SAGEMAKER_BASE_DIR).") from exc
        print(f"rlrt: local job tree (laid out like /opt/ml): {root}", flush=True)
    env = load_environment(root)
    if env.failure_file.exists():
        env.failure_file.unlink()  # a stale failure from an earlier attempt in this tree
    hyperparameters = {**env.hyperparameters, **({} if local else overrides)}
    sources = hyperparameter_sources(env.hyperparameters if stored is None else stored, overrides,
                                     env.config_dir / HYPERPARAMETERS_JSON, earlier_run=local)
    if sources:
        print(sources, flush=True)
    return Job(env, hyperparameters, dict(overrides), local)


def hyperparameter_sources(stored: Mapping[str, Any], given: Mapping[str, Any], path: Path, earlier_run: bool) -> str:
    """The lines that say where each hyperparameter of a job came from when the command line's values (``given``:
    ``--set``, ``--hyperparameters``) differ from those the tree's ``hyperparameters.json`` holds (``stored``: an
    earlier local run's, or SageMaker's); empty when they agree or the file holds none."""

    def same(a: Any, b: Any) -> bool:
        return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)

    def shown(value: Any) -> str:  # one line, control characters escaped, at most 60 characters
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        return text if len(text) <= 60 else text[:57] + "..."

    replaced = {key for key in given if key in stored and not same(given[key], stored[key])}
    # A local rerun: values the file keeps that this command did not give; a SageMaker tree: values it added.
    other = [key for key in stored if key not in given] if earlier_run else [key for key in given if key not in stored]
    if not stored or not (replaced or other):
        return ""
    whose = "keeps from an earlier run" if earlier_run else "holds"
    lines = [f"rlrt: hyperparameters: this command's differ from those {path} {whose}; this job uses:"]
    for key in sorted({*stored, *given}):
        if key.startswith("sagemaker_"):  # the SDK's own (sagemaker_program, ...): not the user's choice
            continue
        if key in given:
            origin = "this command" + (f", replacing {shown(stored[key])}" if key in replaced else "")
            lines.append(f"  {shown(key)}={shown(given[key])} ({origin})")
        else:
            lines.append(f"  {shown(key)}={shown(stored[key])} (that file)")
    return "\n".join(lines)


def run_in_job(base_dir: Path | None, overrides: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
               hint: str, body: Callable[[Job], int | None]) -> int:
    """Run ``body`` inside the job found from ``base_dir`` (see :func:`find_base_dir`) through the one failure path;
    returns the process exit code. ``overrides`` may be a function (reading a ``--hyperparameters`` file): its error
    then ends in the job's failure file like any other."""
    root, local = find_base_dir(base_dir, hint)

    def job() -> int | None:
        given = overrides() if callable(overrides) else overrides
        return body(open_job(root, local, dict(given or {})))

    with STOPS.handling():  # SIGTERM/SIGINT from here on end through the failure path (runtime.stop_signals)
        return run_job(job, lambda: root / FAILURE_FILE)


@contextmanager
def training_lock(base_dir: Path) -> Iterator[None]:
    """Hold the tree's training lock (:data:`runtime.names.JOB_LOCK_FILE`) while the body runs; a second training job
    in the same tree is a :class:`UserError` naming the running one's pid. The lock is the kernel's (``flock``), so
    the lock of a job that died is free at once (no stale lock to clear)."""
    path = base_dir / JOB_LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
            raise TreeBusy(f"Another rlrt training job (pid {holder}) is running in {base_dir}: two jobs in one tree "
                            "would write the same checkpoints and model. Wait for it to end, stop it, or train in "
                            "another tree (--base-dir or SAGEMAKER_BASE_DIR).") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


MIN_FREE_BYTES = 64 * 2**20
"""Room a job needs in ``checkpoints/`` and ``model/`` before it trains: a few checkpoints of the presets' networks
(a CartPole PPO checkpoint is ~1 MB, a DeepRacer camera network's ~20 MB)."""


def require_writable(folder: Path, role: str) -> None:
    """A :class:`UserError` naming ``folder`` when this job cannot write into it (a read-only mount of
    ``/opt/ml/model``, a file in its place) or its disk has no room for a checkpoint (:data:`MIN_FREE_BYTES`), before
    any training time is spent."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rlrt-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"The {role} folder {folder} is not writable ({exc.strerror or exc}): the job writes its "
                        f"outputs there, so mount it read-write (`docker run -v TREE:/opt/ml` without `:ro`).") from exc
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise UserError(f"The {role} folder {folder} has {free / 2**20:.1f} MB free: the job needs at least "
                        f"{MIN_FREE_BYTES // 2**20} MB there for its checkpoints and model. Free some space (or give "
                        "the training instance a larger volume: the estimator's volume_size) and start again.")


def resolve_spec(hyperparameters: Mapping[str, Any], plugins: Plugins, num_cpus: int | None = None,
                 default_preset: str = DEFAULT_PRESET) -> hp.TrainingSpec:
    """Resolve hyperparameters into a checked spec: the configuration check of the backend that trains the algorithm,
    the dialect of the environment's family (DeepRacer's names), and a backend the family works with. The one
    resolution ``rlrt train`` and ``rlrt tune`` share."""
    spec = hp.resolve(hyperparameters, plugins.validator_for, default_preset=default_preset, num_cpus=num_cpus,
                      rewrite=plugins.rewrite_hyperparameters)
    plugins.training_backend(spec)  # a family refuses a backend it does not work with here, before any start-up
    return spec
