"""The training job: hyperparameters -> spec -> the one loop driver (one host) or a Ray cluster (several hosts)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from envs.registry import UnknownEnvironmentError, canonical_env_id
from runtime.cluster import describe_plan, head_cluster, plan_cluster, run_worker
from runtime.cluster.plan import ClusterPlan
from runtime.collector import start_up
from runtime.config import hyperparameters as hp
from runtime.config.limits import limit_problems
from runtime.config.presets import DEFAULT_PRESET
from runtime.config.stop import same_env, stop_note
from runtime.contracts import BackendFactory, EarlyStart, Plugins
from runtime.errors import EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGTERM, UserError
from runtime.job.config_files import read_hyperparameters_file
from runtime.job.context import Job
from runtime.job.environment import JobEnvironment
from runtime.job.plan import STORED, JobPlan, plan_job
from runtime.job.setup import require_writable, resolve_plan, run_in_job, training_lock
from runtime.names import CHECKPOINTS_DIR, CONFIG_DIR, DEFAULT_BASE_DIR, HYPERPARAMETERS_JSON
from runtime.timings import mark
from runtime.train.checkpoints import CheckpointManager
from runtime.train.driver import train


def run_training_job(
    base_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    default_preset: str = DEFAULT_PRESET,
    *,
    plugins: Plugins,
    owned: Callable[[str], bool] | None = None,
    hyperparameters_file: Path | None = None,
    plan: JobPlan | None = None,
    early: EarlyStart | None = None,
    force: bool = False,
    console: str | None = None,
    command: Sequence[str] | None = None,
) -> int:
    """Run one training job end to end through the single failure path; returns the process exit code.

    ``overrides`` (from the command line) are layered on top of ``hyperparameters.json``; in a local tree they are
    written into it, so a rerun in the same tree trains (and resumes) the same configuration. ``plugins``: the
    backends and environment families the job may use (:data:`runtime.plugins.INSTALLED`). ``owned``: which of the
    job's hyperparameters are rlrt's to read (a launcher script's job: the others are the script's own); None: all.
    ``hyperparameters_file`` (``--hyperparameters``, e.g. ``rlrt tune``'s ``best_hyperparameters.json``): read first,
    ``overrides`` win over it. ``plan`` and ``early``: the job's plan and its backend already starting, from
    :func:`plan_ahead` (a launcher script, which starts Ray before its own set-up imports RLlib); the job reads that
    plan when its hyperparameters are the ones it was made from. ``force`` (``rlrt train
    --force``): start the tree afresh instead of resuming it (:func:`runtime.job.setup.start_afresh`). ``console``
    (``--quiet``, ``--verbose``): what stdout shows of each iteration (:func:`runtime.train.driver.train`).
    ``command``: the ``rlrt`` arguments that started the job; a job that stops or fails leaving a checkpoint then
    prints the command that resumes it (:func:`resume_command`).
    """
    overrides = dict(overrides or {})
    named: list[JobPlan] = []  # the command line's plan, made only when a new tree is named after it

    def hint() -> str:  # the command line's, before the tree's stored hyperparameters are read (a rerun resumes)
        named.append(plan_job(overrides, plugins, default_preset))
        return named[0].tree_hint

    def given() -> dict[str, Any]:
        if hyperparameters_file is None:
            return overrides
        from_file = read_hyperparameters_file(hyperparameters_file)
        print(f"rlrt: hyperparameters from {hyperparameters_file} ({len(from_file)}; --set wins over them)", flush=True)
        return {**from_file, **overrides}

    trees: list[Path] = []  # the tree the job opened: where a stopped job resumes

    def body(job: Job) -> int:
        trees.append(job.env.base_dir)
        # A script (script mode, a launcher) may register environments rlrt cannot see before it runs.
        user_code = owned is not None or any(key in job.env.hyperparameters for key in USER_CODE_KEYS)
        if owned is not None:
            job = replace(job, hyperparameters=_owned(job.hyperparameters, owned))
        # A new tree's job has the hyperparameters its name was planned from, a launcher's those it planned ahead
        # from: that plan is the job's.
        made = next((p for p in (*named, *([plan] if plan else [])) if p.made_from(job.hyperparameters)), None)
        chosen = made or plan_job(job.hyperparameters, plugins, default_preset, job.overrides)
        started = (plan.backend, early) if plan is not None and plan.backend is not None and early is not None else None
        return _train(job, chosen, plugins, started, user_code, console)

    # A launcher script's overrides are its own translation, each announced by it: not "this command's" values.
    code = run_in_job(base_dir, given, hint, body, force, training=True, announce=owned is None)
    if code != 0 and command is not None and trees and trees[0] != DEFAULT_BASE_DIR:  # SageMaker resumes by itself
        _say_how_to_resume(command, trees[0], code)
    return code


def resume_command(command: Sequence[str], tree: Path) -> str:
    """The command line that resumes the job the ``rlrt`` arguments ``command`` started in ``tree``: the same
    arguments (what the user typed, whatever the tree has stored), without ``--force`` (which would start it afresh)
    and with ``--base-dir`` naming the tree, last."""
    words = list(command[1:] if command and command[0] == "train" else command)
    kept: list[str] = []
    skip = False
    for word in words:
        name = word.split("=", 1)[0]
        if skip:
            skip = False
        elif len(name) >= 3 and "--force".startswith(name):  # argparse takes any unambiguous prefix of an option
            continue
        elif len(name) >= 3 and "--base-dir".startswith(name):
            skip = "=" not in word  # its value is the next word
        else:
            kept.append(word)
    return shlex.join(["rlrt", "train", *kept, "--base-dir", str(tree)])


def _say_how_to_resume(command: Sequence[str], tree: Path, code: int) -> None:
    """After a job that stopped (SIGTERM, Ctrl-C) or failed: the command that resumes it, when it left a checkpoint
    to resume from (the same command alone would start a new tree from zero)."""
    latest = CheckpointManager(tree / CHECKPOINTS_DIR).latest()
    if latest is None:
        return
    when = "" if code in (EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGHUP) else ", once the cause above is fixed"
    print(
        f"rlrt: to resume this job from {latest.name}{when}, run: {resume_command(command, tree)}",
        file=sys.stderr,
        flush=True,
    )


USER_CODE_KEYS = ("sagemaker_program", "sagemaker_submit_directory")
"""The hyperparameters SageMaker sets for a job that runs the user's own code (``entry_point``, ``source_dir``)."""


def _train(
    job: Job,
    plan: JobPlan,
    plugins: Plugins,
    early: tuple[BackendFactory, EarlyStart] | None = None,
    user_code: bool = False,
    console: str | None = None,
) -> int:
    mark("job")
    env = job.env
    if env.is_master:
        require_writable(env.model_dir, "model")
        require_writable(env.checkpoint_dir, "checkpoints")
    require_writable(env.output_dir, "output", min_free=0)  # the lock, the progress, the failure file
    with training_lock(env.base_dir):
        return _train_locked(job, plan, plugins, early, user_code, console)


def _train_locked(
    job: Job,
    plan: JobPlan,
    plugins: Plugins,
    early: tuple[BackendFactory, EarlyStart] | None = None,
    user_code: bool = False,
    console: str | None = None,
) -> int:
    try:
        _quick_check(job, plan, user_code)
        if early is None:
            early = _start_early(plan, job.env)
        return _resolve_and_train(job, plan, early, plugins, console)
    except BaseException:
        if early is not None:  # failed before its session took Ray over (a rejected spec, an env that cannot be
            early[1].cancel()  # built): stop what the early start started
        raise


def _naming_stored_values(error: UserError, job: Job, plan: JobPlan) -> UserError:
    """``error`` with the file named when it is about values an earlier run of this local tree stored there (a rerun
    that fixed a typo on its command line still has the typo in ``hyperparameters.json``): the plan says where each
    hyperparameter came from."""
    stored = sorted(key for key, origin in plan.origins.items() if origin == STORED and f"'{key}'" in str(error))
    if not stored:
        return error
    path = job.env.base_dir / CONFIG_DIR / HYPERPARAMETERS_JSON
    if not job.local:  # SageMaker's (or docker run's) tree: the caller has no command line, only the estimator
        return UserError(
            f"{error}\nFix {'it' if len(stored) == 1 else 'them'} in the estimator's hyperparameters "
            f"(SageMaker writes them to {path})."
        )
    return UserError(
        f"{error}\n{', '.join(stored)} {'is' if len(stored) == 1 else 'are'} set in {path}, not on "
        "this command line (in a tree an earlier `rlrt train` made, each run's --set is kept there, so "
        "that a rerun resumes the same job): remove it from that file, or train in a new tree (another "
        "--base-dir)."
    )


def _resolve_and_train(
    job: Job,
    plan: JobPlan,
    early: tuple[BackendFactory, EarlyStart] | None,
    plugins: Plugins,
    console: str | None = None,
) -> int:
    env = job.env
    try:
        with start_up():  # resolving imports the backend's library (RLlib: ~2 s)
            plan = resolve_plan(plan, plugins, num_cpus=env.num_cpus, num_gpus=env.num_gpus)
    except UserError as exc:
        raise _naming_stored_values(exc, job, plan) from exc.__cause__
    spec, backend = plan.spec, plan.backend
    assert spec is not None and backend is not None  # resolve_plan completes the plan or raises
    if early is not None and backend is not early[0]:
        early[1].cancel()
        early = None
    mark("spec")
    preset = plan.choice.preset  # the default preset, or the one tuned for the env the job names
    if not plan.choice.named and preset is not None and not same_env(spec.env, preset.env):
        print(stop_note(spec.stop, job.hyperparameters, spec.env, preset.name, preset.stop), flush=True)
    if not backend.distributed:
        if not env.is_master:
            print("rlrt: this backend trains on the first host; this host has nothing to do", flush=True)
            return 0
    else:
        cluster_plan = plan_cluster(env)
        if cluster_plan.multi_node:
            return _multi_node_training(job, plan, cluster_plan, plugins, console)
    early_start = early[1] if early is not None else None
    result = train(env, spec, plugins, early_start=early_start, console=console, backend=backend)
    if result.exit_code == 0 and (job.local or env.base_dir != DEFAULT_BASE_DIR):  # not on SageMaker or docker
        print(outputs_summary(env), flush=True)
    return result.exit_code


def outputs_summary(env: JobEnvironment) -> str:
    """The closing ``rlrt: outputs:`` lines of a local job: each folder with what the job wrote there, and only
    what is there (no learning curve is drawn before an episode ends; an empty folder is not named)."""

    def has(folder: Path) -> bool:
        return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))

    lines = []
    if has(env.model_dir):
        lines.append(f"  model (checkpoint, config, metadata): {env.model_dir}")
    if has(env.checkpoint_dir):
        lines.append(f"  checkpoints: {env.checkpoint_dir}")
    intermediate = [name for name in ("progress.csv", "learning_curve.png") if (env.intermediate_dir / name).is_file()]
    if intermediate:
        lines.append(f"  {', '.join(intermediate)}: {env.intermediate_dir}")
    if has(env.tensorboard_dir):
        lines.append(f"  TensorBoard: {env.tensorboard_dir}")
    return "\n".join(["rlrt: outputs:", *lines])


def _quick_check(job: Job, plan: JobPlan, user_code: bool = False) -> None:
    """Name a configuration key the algorithm does not have, or a value of the wrong type, or an environment id
    gymnasium does not know, within a second: before the backend's library loads and its machinery starts (RLlib's
    import alone takes ~4 s), in the words of the full check, and values past the limits every hyperparameter keeps
    (runtime.config.limits: UTF-8 text, 64-bit integers). Reads the plan's first part (the algorithm and backend it
    chose, the settings given); anything else is left to resolve_plan."""
    limits = limit_problems(job.hyperparameters)
    if limits:
        raise _naming_stored_values(UserError(hp.format_problems(limits)), job, plan)
    _check_env_id(job, plan, user_code)
    if plan.algorithm is None:  # no preset to name it: resolve_plan reports why
        return
    if plan.backend is None:  # an unknown algorithm or backend, or a backend without the algorithm: named at once
        assert plan.problem is not None
        raise _naming_stored_values(plan.problem, job, plan) from None
    problems = plan.backend.quick_check(plan.algorithm, plan.config)
    if problems:  # with the stop criteria's (as cheap), so that one run names every mistake it can
        keys = hp.all_stop_keys(plan.backend.validator().stop_keys(plan.algorithm))
        problems += hp.check_stop(plan.stop, keys)[1]
        raise _naming_stored_values(UserError(hp.format_problems(problems)), job, plan)


def _check_env_id(job: Job, plan: JobPlan, user_code: bool) -> None:
    """A plain environment id that neither gymnasium's registry nor rlrt knows, named with the closest registered
    one. Not checked where something could still register it: a ``module:Class`` or ``<prefix>:<game>`` id, a
    namespaced one (``ns/Name-v0``, as the launchers register a script's envs), or a job that runs the user's code."""
    key = plan.env_key
    env_id = plan.hyperparameters.get(key) if key is not None else None
    if user_code or not isinstance(env_id, str) or not env_id.strip() or ":" in env_id or "/" in env_id:
        return
    try:
        canonical_env_id(env_id)
    except UnknownEnvironmentError as exc:
        raise _naming_stored_values(UserError(f"'{key}': {exc}"), job, plan) from None


def _start_early(plan: JobPlan, env: JobEnvironment) -> tuple[BackendFactory, EarlyStart] | None:
    """On a single host, let the backend the plan chose start its machinery (RLlib: Ray) in the background while the
    spec resolves; returns (backend, handle), or None. The handle is cancelled when the spec is rejected."""
    if plan.backend is None or len(env.hosts) != 1:
        return None
    handle = plan.backend.start_early(env.num_cpus, env.num_gpus)
    return (plan.backend, handle) if handle is not None else None


def plan_ahead(
    env: JobEnvironment,
    overrides: Mapping[str, Any],
    plugins: Plugins,
    default_preset: str,
    owned: Callable[[str], bool] | None = None,
) -> tuple[JobPlan, EarlyStart | None]:
    """For a caller that knows its job's hyperparameters before the job opens (a launcher script, whose own set-up
    then imports RLlib): the job's plan, made as :func:`run_training_job` makes it from the tree ``env`` with
    ``overrides`` on top (``owned``: the keys it reads), and on a single host the plan's backend starting its
    machinery (RLlib: Ray) in the background, or None. Give both to :func:`run_training_job` (``plan``, ``early``);
    the caller cancels the handle if the job never starts (cancelling after the job's session has shut it down does
    nothing)."""
    plan = plan_job(_owned({**env.hyperparameters, **overrides}, owned), plugins, default_preset, overrides)
    started = _start_early(plan, env)
    return plan, started[1] if started is not None else None


def _owned(hyperparameters: Mapping[str, Any], owned: Callable[[str], bool] | None) -> dict[str, Any]:
    """The hyperparameters rlrt reads (``owned``; None: all): one filter for the job and the plan made ahead of it,
    so that the job finds the plan was made from its own."""
    return {k: v for k, v in hyperparameters.items() if owned is None or owned(k)}


def _multi_node_training(
    job: Job, plan: JobPlan, cluster_plan: ClusterPlan, plugins: Plugins, console: str | None = None
) -> int:
    """A host of a multi-host job: the head forms the cluster and trains; the others serve as Ray worker nodes.

    Every host has already checked the hyperparameters, so a bad one fails each host at once. The env-runner
    count defaults to the CPUs Ray sees in the formed cluster (see runtime.cluster): the head completes its plan
    again with them, on the same preset and backend.
    """
    print(f"rlrt: {describe_plan(cluster_plan)}", flush=True)
    if not cluster_plan.is_head:
        return run_worker(cluster_plan, job.env)
    with head_cluster(cluster_plan, job.env) as cluster:  # SIGTERM while it forms: every Ray process stopped, exit 143
        plan = resolve_plan(plan, plugins, num_cpus=cluster.cpus + 1, num_gpus=job.env.num_gpus)
        assert plan.spec is not None
        return train(job.env, plan.spec, plugins, cluster=cluster, console=console, backend=plan.backend).exit_code
