"""The one job setup every command goes through: find the ``/opt/ml`` tree (:mod:`runtime.job.tree`), load the
environment, clear a stale failure, merge command-line overrides, resolve hyperparameters, and end through the single
failure path.

- :func:`run_in_job` runs a command's body inside a job (``rlrt train``, ``evaluate``, ``deepracer-evaluate``, ...);
- :func:`resolve_plan` completes a job's plan (:mod:`runtime.job.plan`) with its checked :class:`TrainingSpec` (the
  plan's backend's validator and the environment family's dialect, on the plan's preset); :func:`resolve_spec` does
  it for bare hyperparameters (``rlrt tune``'s samples);
- :func:`runtime.job.env_config.job_env_config` maps the job's channels into an environment's ``env_config``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

from runtime.config import hyperparameters as hp
from runtime.config.presets import DEFAULT_PRESET
from runtime.config.spec import TrainingSpec
from runtime.config.threads import choose_threads, layout_of
from runtime.contracts import ConfigValidator, Plugins
from runtime.errors import TreeBusy, UserError, keep_room_for_failure, run_job
from runtime.job.context import Job
from runtime.job.environment import load_environment, prepare_local_tree
from runtime.job.plan import JobPlan, plan_job
from runtime.job.tree import claim_tree, discard_unused_tree, locate_tree
from runtime.paths import describe_os_error, guarded, path_error
from runtime.names import (
    BASE_DIR_ENV,
    CHECKPOINTS_DIR,
    CONFIG_DIR,
    DEFAULT_BASE_DIR,
    FAILURE_FILE,
    HYPERPARAMETERS_JSON,
    JOB_LOCK_FILE,
    LOCAL_TREE_FILE,
    MODEL_DIR,
    OUTPUT_DIR,
)
from runtime.stop_signals import STOPS


def start_afresh(root: Path, local: bool) -> None:
    """``rlrt train --force``: forget what ``root`` holds from earlier runs (checkpoints, model, outputs and, in a
    local tree, the hyperparameters stored there) so the job starts from scratch instead of resuming. Refused while
    a job trains there (the training lock); input channels are kept."""
    if not (root / CONFIG_DIR).is_dir():
        return  # a new tree: nothing to forget
    with training_lock(root):
        for folder in (CHECKPOINTS_DIR, MODEL_DIR):
            shutil.rmtree(root / folder, ignore_errors=True)
        for path in (root / OUTPUT_DIR).iterdir() if (root / OUTPUT_DIR).is_dir() else ():
            if path.is_dir():
                shutil.rmtree(path)
            elif path != root / JOB_LOCK_FILE:
                path.unlink()
        if local:
            (root / CONFIG_DIR / HYPERPARAMETERS_JSON).unlink(missing_ok=True)
    print(
        f"rlrt: --force: starting {root} afresh (its checkpoints, model, outputs"
        f"{' and stored hyperparameters' if local else ''} removed)",
        flush=True,
    )


def open_job(
    root: Path,
    local: bool,
    overrides: Mapping[str, Any],
    force: bool = False,
    training: bool = False,
    announce: bool = True,
) -> Job:
    """Lay out a local tree if needed, load the environment, clear a stale failure and merge the overrides (with
    ``force``, after :func:`start_afresh`). ``training``: a tree another training job holds is refused first
    (:func:`refuse_busy_tree`), before this job writes anything into it. ``announce``: print where each
    hyperparameter came from when the overrides differ from the tree's (:func:`hyperparameter_sources`); a launcher
    script's job says it per setting.

    In a local tree the overrides are written into ``hyperparameters.json``, so a rerun in the same tree runs (and
    resumes) the same configuration; in a SageMaker tree they are layered on top of it.
    """
    if root.exists() and not root.is_dir():
        raise UserError(
            f"The job tree {root} is a file, not a folder (--base-dir or {BASE_DIR_ENV} names it): give "
            "a folder, new or laid out like /opt/ml."
        )
    if training:
        refuse_busy_tree(root)
    if force:
        start_afresh(root, local)
    stored: dict[str, Any] | None = None  # a local tree's hyperparameters before this run's --set is written in
    if local:
        try:
            stored = prepare_local_tree(root, overrides)
        except OSError as exc:
            raise UserError(
                f"Cannot lay out the job tree in {root}: "
                + describe_os_error(Path(exc.filename or root), exc, "the folder")
                + " Or give another tree (--base-dir or SAGEMAKER_BASE_DIR)."
            ) from exc
        print(f"rlrt: local job tree (laid out like /opt/ml): {root}", flush=True)
    env = load_environment(root)
    if env.failure_file.exists():
        env.failure_file.unlink()  # a stale failure from an earlier attempt in this tree
    hyperparameters = {**env.hyperparameters, **({} if local else overrides)}
    sources = hyperparameter_sources(
        env.hyperparameters if stored is None else stored,
        overrides,
        env.config_dir / HYPERPARAMETERS_JSON,
        earlier_run=local,
    )
    if sources and announce:
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


def run_in_job(
    base_dir: Path | None,
    overrides: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None,
    hint: str | Callable[[], str],
    body: Callable[[Job], int | None],
    force: bool = False,
    training: bool = False,
    announce: bool = True,
) -> int:
    """Run ``body`` inside the job found from ``base_dir`` (see :func:`runtime.job.tree.find_base_dir`) through the
    one failure path; returns the process exit code. ``overrides`` may be a function (reading a ``--hyperparameters``
    file): its error then ends in the job's failure file like any other. A new ``./rlrt-jobs`` tree whose job failed
    before producing anything is removed (:func:`runtime.job.tree.discard_unused_tree`); ``hint``: what such a tree
    is named after (a function: called only then); ``force``: see :func:`start_afresh`; ``training`` and
    ``announce``: see :func:`open_job`."""
    root, local, claimed = locate_tree(base_dir, hint, claim=True)
    # A training job rerun in a tree an earlier one laid out: the tree is as local as it was then (its resourceconfig
    # only says that someone made it). An evaluation leaves a training tree's hyperparameters as they are.
    local = local or (training and (root / LOCAL_TREE_FILE).is_file())

    def job() -> int | None:
        given = overrides() if callable(overrides) else overrides
        return body(open_job(root, local, dict(given or {}), force, training, announce))

    with STOPS.handling():  # SIGTERM/SIGINT from here on end through the failure path (runtime.stop_signals)
        code = run_job(job, lambda: root / FAILURE_FILE)
    if claimed and code != 0:
        discard_unused_tree(root)
    return code


def makes_a_new_tree(base_dir: Path | None) -> bool:
    """Whether a command given ``base_dir`` runs in a new ``./rlrt-jobs`` tree
    (:func:`runtime.job.tree.find_base_dir`): no ``--base-dir``, no ``SAGEMAKER_BASE_DIR``, no job in ``/opt/ml``."""
    return (
        base_dir is None
        and not os.environ.get(BASE_DIR_ENV)
        and not (DEFAULT_BASE_DIR / CONFIG_DIR / HYPERPARAMETERS_JSON).is_file()
    )


def run_beside(tree: Path, folder: Path, overrides: Mapping[str, Any], body: Callable[[Job], int | None]) -> int:
    """Run ``body`` on the job tree ``tree``, writing only into the new folder ``folder`` (``-2``, ``-3``, ... when
    taken): what the command makes (its job's ``intermediate_dir``) and its failure file go there. The tree itself is
    only read: its hyperparameters, failure file and lock are its training job's (which may be running), so the
    command's hyperparameters are ``overrides`` alone. A folder left holding nothing but the failure file is removed.
    Returns the exit code."""
    made = claim_tree(folder.parent, folder.name)
    failure = made / FAILURE_FILE.name

    def job() -> int | None:
        env = replace(load_environment(tree), hyperparameters=MappingProxyType(dict(overrides)), outputs=made)
        print(f"rlrt: output folder (beside the model, in its job tree): {made}", flush=True)
        return body(Job(env, dict(overrides), dict(overrides), False))

    with STOPS.handling():  # SIGTERM/SIGINT from here on end through the failure path (runtime.stop_signals)
        code = run_job(job, lambda: failure)
    if code != 0 and {path.name for path in made.iterdir()} <= {failure.name}:
        shutil.rmtree(made, ignore_errors=True)
        with suppress(OSError):
            made.parent.rmdir()  # output/evaluation itself, when this was its only folder
        print(
            f"rlrt: nothing was written, so the new folder {made} was removed (the error is above)",
            file=sys.stderr,
            flush=True,
        )
    return code


def refuse_busy_tree(root: Path) -> None:
    """A :class:`TreeBusy` when another training job holds ``root``'s lock, found without creating or changing
    anything in the tree: a refused job must leave the running one's ``hyperparameters.json`` and failure file as they
    are. The job takes the lock itself later (:func:`training_lock`), once its folders are checked."""
    try:
        descriptor = os.open(root / JOB_LOCK_FILE, os.O_RDONLY)
    except OSError:  # no lock file (a new tree), or none this job can read: training_lock reports what matters
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(root, os.pread(descriptor, 64, 0)) from None
    finally:
        os.close(descriptor)  # releases the shared lock at once


def _busy(base_dir: Path, holder: bytes) -> TreeBusy:
    pid = holder.decode(errors="replace").strip() or "unknown"
    return TreeBusy(
        f"Another rlrt training job (pid {pid}) is running in {base_dir}: two jobs in one tree would "
        "write the same checkpoints and model. Wait for it to end, stop it, or train in another tree "
        "(--base-dir or SAGEMAKER_BASE_DIR)."
    )


@contextmanager
def pid_lock(path: Path, busy: Callable[[bytes], Exception], opening: Any = None) -> Iterator[None]:
    """Hold the lock file ``path`` (the kernel's ``flock``, so the lock of a process that died is free at once: no
    stale lock to clear) with this process's pid in it while the body runs; held by another process: ``busy(what
    the file says)`` is raised. ``opening``: a context manager the file is created in (one naming its folder)."""
    with opening or nullcontext():
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy(os.pread(descriptor, 64, 0)) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


@contextmanager
def training_lock(base_dir: Path) -> Iterator[None]:
    """Hold the tree's training lock (:data:`runtime.names.JOB_LOCK_FILE`, :func:`pid_lock`) while the body runs; a
    second training job in the same tree is a :class:`UserError` naming the running one's pid."""
    path = base_dir / JOB_LOCK_FILE
    with guarded(path.parent, "The output folder"):
        path.parent.mkdir(parents=True, exist_ok=True)
    with pid_lock(path, lambda holder: _busy(base_dir, holder), guarded(path.parent, "The output folder")):
        keep_room_for_failure(base_dir / FAILURE_FILE)  # released as the job ends, after its failure file
        yield


MIN_FREE_BYTES = 64 * 2**20
"""Room a job needs in ``checkpoints/`` and ``model/`` before it trains: a few checkpoints of the presets' networks
(a CartPole PPO checkpoint is ~1 MB, a DeepRacer camera network's ~20 MB)."""


def require_writable(folder: Path, role: str, min_free: int = MIN_FREE_BYTES) -> None:
    """A :class:`UserError` naming ``folder`` when this job cannot write into it (a read-only mount of
    ``/opt/ml/model``, a file in its place) or its disk has no room for a checkpoint (:data:`MIN_FREE_BYTES`), before
    any training time is spent."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rlrt-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise path_error(folder, exc, f"The {role} folder") from exc
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise UserError(
            f"The {role} folder {folder} has {free / 2**20:.1f} MB free: the job needs at least "
            f"{MIN_FREE_BYTES // 2**20} MB there for its checkpoints and model. Free some space (or give "
            "the training instance a larger volume: the estimator's volume_size) and start again."
        )


def resolve_spec(
    hyperparameters: Mapping[str, Any],
    plugins: Plugins,
    num_cpus: int | None = None,
    default_preset: str = DEFAULT_PRESET,
    num_gpus: int = 0,
) -> TrainingSpec:
    """Resolve hyperparameters into a checked spec (:func:`resolve_plan` of their :func:`plan_job`): the one
    resolution ``rlrt train`` and ``rlrt tune`` share."""
    spec = resolve_plan(plan_job(hyperparameters, plugins, default_preset), plugins, num_cpus, num_gpus).spec
    assert spec is not None  # resolve_plan completes the plan or raises
    return spec


def resolve_plan(plan: JobPlan, plugins: Plugins, num_cpus: int | None = None, num_gpus: int = 0) -> JobPlan:
    """Complete ``plan`` with its checked spec: the configuration check of the plan's backend, the dialect of the
    environment's family (DeepRacer's names), and a backend the family works with, on the plan's preset (parsed
    once, when the plan was made). With ``num_cpus``, the threads of the job's processes are chosen for that layout
    (:mod:`runtime.config.threads`); a multi-host job completes its plan again with the cluster's CPUs."""

    def validator(algorithm: str, backend: str | None) -> ConfigValidator:
        # The algorithm and backend hp.resolve reads are the ones the plan chose its backend for (a family's dialect
        # renames settings, never these): the plan's backend, or why there is none.
        if plan.backend is None:
            assert plan.problem is not None  # the plan names an algorithm whenever there is a preset to resolve on
            raise plan.problem
        return plan.backend.validator()

    spec = hp.resolve(
        plan.hyperparameters,
        validator,
        default_preset=plan.default_preset,
        num_cpus=num_cpus,
        rewrite=plugins.rewrite_hyperparameters,
        chosen=plan.choice,
    )
    assert plan.backend is not None  # hp.resolve asked validator() for it
    plugins.fitting_backend(plan.backend, spec)  # a family refuses a backend it does not work with, before any start-up
    if num_cpus is not None:
        spec = replace(spec, threads=choose_threads(layout_of(spec.config, num_cpus, num_gpus)))
    return replace(plan, spec=spec)
