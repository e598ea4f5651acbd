"""The training job: hyperparameters -> spec -> the one loop driver (one host) or a Ray cluster (several hosts)."""

from __future__ import annotations

import re
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
from runtime.config.presets import DEFAULT_PRESET, load_preset, preset_for_job
from runtime.config.stop import same_env, stop_note
from runtime.contracts import BackendFactory, EarlyStart, Plugins
from runtime.errors import EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGTERM, UserError
from runtime.job.config_files import read_hyperparameters_file
from runtime.job.context import Job
from runtime.job.environment import JobEnvironment
from runtime.job.setup import require_writable, resolve_spec, run_in_job, training_lock
from runtime.job.tree import tree_name
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
    early: tuple[BackendFactory, EarlyStart] | None = None,
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
    ``overrides`` win over it. ``early``: a backend already starting (:func:`start_backend_early`, a launcher script
    that starts Ray before its own set-up imports RLlib), used instead of starting one here. ``force`` (``rlrt train
    --force``): start the tree afresh instead of resuming it (:func:`runtime.job.setup.start_afresh`). ``console``
    (``--quiet``, ``--verbose``): what stdout shows of each iteration (:func:`runtime.train.driver.train`).
    ``command``: the ``rlrt`` arguments that started the job; a job that stops or fails leaving a checkpoint then
    prints the command that resumes it (:func:`resume_command`).
    """
    overrides = dict(overrides or {})
    hint = _tree_hint(overrides, default_preset)

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
            job = replace(job, hyperparameters={k: v for k, v in job.hyperparameters.items() if owned(k)})
        return _train(job, default_preset, plugins, early, user_code, console)

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


def _tree_hint(given: Mapping[str, Any], default_preset: str) -> str:
    """What a new local tree is named after: the preset the job names, or the shipped one it trains with; else, when
    it names another environment or algorithm than the default preset's, ``<env>-<algorithm>`` (``acrobot-dqn``), so
    that runs are told apart; ``-s<seed>`` added when the command gives a seed (``cartpole-ppo-s3``), so that seeds
    started together are told apart by name, not by the ``-2``, ``-3`` a second launch in the same second gets."""
    seed = given.get(hp.SEED)
    hint = _configuration_hint(given, default_preset)
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        return f"{tree_name(hint)}-s{seed}"  # a preset file's name without its suffix, then the seed
    return hint


def _configuration_hint(given: Mapping[str, Any], default_preset: str) -> str:
    """:func:`_tree_hint` without the seed."""
    named = next((given[k] for k in (hp.PRESET, *hp.PRESET_ALIASES) if k in given), None)
    env, algorithm = given.get(hp.ENV, given.get(hp.CONFIG_PREFIX + "env")), given.get(hp.RUN)
    if named is not None or not (isinstance(env, str) and env or isinstance(algorithm, str) and algorithm):
        return str(named or default_preset)
    tuned = preset_for_job(default_preset, env, algorithm)
    if tuned != default_preset:  # the shipped preset the job trains with
        return tuned
    try:
        preset = load_preset(default_preset)
    except Exception:  # noqa: BLE001 - resolve_spec reports a preset it cannot load
        return default_preset
    env = env if isinstance(env, str) and env else preset.env
    algorithm = algorithm if isinstance(algorithm, str) and algorithm else preset.algorithm
    return f"{re.sub(r'-v[0-9]+$', '', env)}-{algorithm}"


def _train(
    job: Job,
    default_preset: str,
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
        return _train_locked(job, default_preset, plugins, early, user_code, console)


def _train_locked(
    job: Job,
    default_preset: str,
    plugins: Plugins,
    early: tuple[BackendFactory, EarlyStart] | None = None,
    user_code: bool = False,
    console: str | None = None,
) -> int:
    try:
        _quick_check(job, default_preset, plugins, user_code)
        if early is None:
            early = _start_early(job, default_preset, plugins)
        return _resolve_and_train(job, early, default_preset, plugins, console)
    except BaseException:
        if early is not None:  # failed before its session took Ray over (a rejected spec, an env that cannot be
            early[1].cancel()  # built): stop what the early start started
        raise


def _naming_stored_values(error: UserError, job: Job) -> UserError:
    """``error`` with the file named when it is about values an earlier run of this local tree stored there (a rerun
    that fixed a typo on its command line still has the typo in ``hyperparameters.json``)."""
    stored = sorted(key for key in job.hyperparameters if key not in job.overrides and f"'{key}'" in str(error))
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
    early: tuple[BackendFactory, EarlyStart] | None,
    default_preset: str,
    plugins: Plugins,
    console: str | None = None,
) -> int:
    env = job.env
    try:
        with start_up():  # resolving imports the backend's library (RLlib: ~2 s)
            spec = resolve_spec(
                job.hyperparameters,
                plugins,
                num_cpus=env.num_cpus,
                default_preset=default_preset,
                num_gpus=env.num_gpus,
            )
    except UserError as exc:
        raise _naming_stored_values(exc, job) from exc.__cause__
    backend = plugins.training_backend(spec)
    if early is not None and backend is not early[0]:
        early[1].cancel()
        early = None
    mark("spec")
    if not any(k in job.hyperparameters for k in (hp.PRESET, *hp.PRESET_ALIASES)):
        preset = load_preset(preset_for_job(default_preset, spec.env, job.hyperparameters.get(hp.RUN)))
        if not same_env(spec.env, preset.env):
            print(stop_note(spec.stop, job.hyperparameters, spec.env, preset.name, preset.stop), flush=True)
    if not backend.distributed:
        if not env.is_master:
            print("rlrt: this backend trains on the first host; this host has nothing to do", flush=True)
            return 0
    else:
        plan = plan_cluster(env)
        if plan.multi_node:
            return _multi_node_training(job, plan, default_preset, plugins, console)
    result = train(env, spec, plugins, early_start=early[1] if early is not None else None, console=console)
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


def _named_algorithm(given: Mapping[str, Any], default_preset: str) -> str:
    """The algorithm the hyperparameters name (``rl.training.run``, else their preset's), before they resolve."""
    algorithm = given.get(hp.RUN)
    if not isinstance(algorithm, str) or not algorithm.strip():
        name = next((given[k] for k in (hp.PRESET, *hp.PRESET_ALIASES) if k in given), default_preset)
        algorithm = load_preset(str(name)).algorithm
    return algorithm


def _named_backend(given: Mapping[str, Any]) -> str | None:
    """The backend ``rl.training.backend`` names (None: none, or not a name, which resolve_spec reports)."""
    name = given.get(hp.BACKEND)
    return name if isinstance(name, str) and name.strip() else None


def _given_config(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rl.training.config.*`` hyperparameters (not ``env_config``), nested as hp.resolve nests them."""
    config: dict[str, Any] = {}
    for key, value in sorted(hyperparameters.items()):
        rest = key[len(hp.CONFIG_PREFIX) :] if isinstance(key, str) and key.startswith(hp.CONFIG_PREFIX) else ""
        if rest and rest != "env_config" and not key.startswith(hp.ENV_CONFIG_PREFIX):
            hp.set_nested(config, rest, value)
    return config


def _quick_check(job: Job, default_preset: str, plugins: Plugins, user_code: bool = False) -> None:
    """Name a configuration key the algorithm does not have, or a value of the wrong type, or an environment id
    gymnasium does not know, within a second: before the backend's library loads and its machinery starts (RLlib's
    import alone takes ~4 s), in the words of the full check, and values past the limits every hyperparameter keeps
    (runtime.config.limits: UTF-8 text, 64-bit integers). Anything else is left to resolve_spec."""
    limits = limit_problems(job.hyperparameters)
    if limits:
        raise _naming_stored_values(UserError(hp.format_problems(limits)), job)
    _check_env_id(job, user_code)
    try:
        algorithm = _named_algorithm(job.hyperparameters, default_preset)
    except Exception:  # noqa: BLE001 - resolve_spec reports what is wrong with the hyperparameters
        return
    try:  # an unknown algorithm or backend, or a backend without the algorithm: named before anything loads
        backend = plugins.backend_for(algorithm, _named_backend(job.hyperparameters))
    except UserError as exc:
        raise _naming_stored_values(exc, job) from None
    problems = backend.quick_check(algorithm, _given_config(job.hyperparameters))
    if problems:  # with the stop criteria's (as cheap), so that one run names every mistake it can
        stop = {k: v for k, v in job.hyperparameters.items() if isinstance(k, str) and k.startswith(hp.STOP_PREFIX)}
        problems += hp.check_stop(stop, hp.all_stop_keys(backend.validator().stop_keys(algorithm)))[1]
        raise _naming_stored_values(UserError(hp.format_problems(problems)), job)


def _check_env_id(job: Job, user_code: bool) -> None:
    """A plain environment id that neither gymnasium's registry nor rlrt knows, named with the closest registered
    one. Not checked where something could still register it: a ``module:Class`` or ``<prefix>:<game>`` id, a
    namespaced one (``ns/Name-v0``, as the launchers register a script's envs), or a job that runs the user's code."""
    key = hp.ENV if hp.ENV in job.hyperparameters else hp.CONFIG_PREFIX + "env"
    env_id = job.hyperparameters.get(key)
    if user_code or not isinstance(env_id, str) or not env_id.strip() or ":" in env_id or "/" in env_id:
        return
    try:
        canonical_env_id(env_id)
    except UnknownEnvironmentError as exc:
        raise _naming_stored_values(UserError(f"'{key}': {exc}"), job) from None


def _start_early(job: Job, default_preset: str, plugins: Plugins) -> tuple[BackendFactory, EarlyStart] | None:
    """On a single host, let the backend of the algorithm the job names start its machinery (RLlib: Ray) in the
    background while the spec resolves; returns (backend, handle), or None. A wrong guess only costs time: the
    resolved spec decides, and the handle is cancelled when it names another backend or is rejected."""
    try:
        algorithm = _named_algorithm(job.hyperparameters, default_preset)
    except Exception:  # noqa: BLE001 - resolve_spec reports what is wrong with the hyperparameters
        return None
    return start_backend_early(algorithm, plugins, job.env, _named_backend(job.hyperparameters))


def start_backend_early(
    algorithm: str, plugins: Plugins, env: JobEnvironment, backend_name: str | None = None
) -> tuple[BackendFactory, EarlyStart] | None:
    """On a single host, the backend that trains ``algorithm`` starting its machinery (RLlib: Ray) in the background;
    returns (backend, handle) for :func:`run_training_job`'s ``early``, or None. Its caller cancels the handle if the
    job never starts (cancelling after the job's session has shut it down does nothing)."""
    if len(env.hosts) != 1:
        return None
    try:
        backend = plugins.backend_for(algorithm, backend_name)
    except Exception:  # noqa: BLE001 - resolve_spec reports an unknown algorithm or backend
        return None
    handle = backend.start_early(env.num_cpus, env.num_gpus)
    return (backend, handle) if handle is not None else None


def _multi_node_training(
    job: Job, plan: ClusterPlan, default_preset: str, plugins: Plugins, console: str | None = None
) -> int:
    """A host of a multi-host job: the head forms the cluster and trains; the others serve as Ray worker nodes.

    Every host has already checked the hyperparameters, so a bad one fails each host at once. The env-runner
    count defaults to the CPUs Ray sees in the formed cluster (see runtime.cluster).
    """
    print(f"rlrt: {describe_plan(plan)}", flush=True)
    if not plan.is_head:
        return run_worker(plan, job.env)
    with head_cluster(plan, job.env) as cluster:  # SIGTERM while it forms: every Ray process stopped, exit 143
        spec = resolve_spec(
            job.hyperparameters,
            plugins,
            num_cpus=cluster.cpus + 1,
            default_preset=default_preset,
            num_gpus=job.env.num_gpus,
        )
        return train(job.env, spec, plugins, cluster=cluster, console=console).exit_code
