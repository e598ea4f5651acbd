"""``rlrt tune``'s search: the trials on Ray Tune (Optuna's TPE, random or grid search; ASHA early stopping)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import runtime
from runtime.cluster.node import RayNode, free_ports
from runtime.cluster.object_store import ray_temp_root
from runtime.config import hyperparameters as hp
from runtime.contracts import Plugins
from runtime.errors import UserError, run_job, signal_exit_code, write_failure
from runtime.job.cpus import host_cpus, machine_line, usable_cpus
from runtime.stop_signals import STOPS
from runtime.tuning.output import default_folder, own_output
from runtime.tuning.results import RESULTS_CSV, TuningOutcome, summarise
from runtime.tuning.spec import GRID, TuningSpec, check_hyperparameters, load_tuning_spec
from runtime.tuning.trial import trial_class, wait_for_jobs

OPTUNA_CHOICES_WARNING = "Choices for a categorical distribution should be a tuple of None, bool, int, float and str"
"""The start of Optuna's warning about a categorical range whose values are not primitives (optuna 4.x)."""
RAY_START_S = 120.0
"""How long the trials' Ray may take to listen (1-3 s on a busy 2-core machine)."""


class TuneInterruption(logging.Filter):
    """Ray Tune's lines about Ctrl-C (its "Stop signal received" notice and the ``Tuner.restore(...)`` advice, which
    does not apply to ``rlrt tune``): dropped, and remembered as ``interrupted``."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Stop signal received" in message:
            self.interrupted = True
            return False
        return "has been interrupted" not in message and "Tuner.restore" not in message


def run_tuning(spec: TuningSpec, output: Path, plugins: Plugins, out: Any = None) -> TuningOutcome:
    """Run the search; write ``tuning_results.csv`` and ``best_hyperparameters.json`` under ``output``. Ctrl-C stops
    the running trials (their jobs save a checkpoint) and lists what finished; ``outcome.interrupted`` says so."""
    import ray  # heavy: Ray and RLlib (~4 s)
    from ray import tune  # heavy: Ray and RLlib (~4 s)
    from ray.tune.schedulers import ASHAScheduler  # heavy: Ray and RLlib (~4 s)
    from ray.tune.search import ConcurrencyLimiter  # heavy: Ray and RLlib (~4 s)
    from ray.tune.search.basic_variant import BasicVariantGenerator  # heavy: Ray and RLlib (~4 s)
    from ray.tune.search.optuna import OptunaSearch  # heavy: Ray and RLlib (~4 s)

    out = out or sys.stdout
    check_hyperparameters(spec, plugins)
    output = output.resolve()
    jobs_dir = output / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    # The folder holding the ``runtime`` package (the repository, or site-packages when installed): the trials'
    # PYTHONPATH and working folder, so each trial imports the same runtime as this process.
    repo_root = str(Path(runtime.__file__).resolve().parent.parent)
    environment = dict(os.environ)  # the trials' jobs', as this process has it before Ray adds its own
    metric = spec.objective_metric_name
    if spec.strategy == GRID:
        space = {f"p{i}": tune.grid_search(list(r.values)) for i, r in enumerate(spec.ranges)}
        samples = 1  # one pass over the grid
    else:
        space = {f"p{i}": r.tune_domain() for i, r in enumerate(spec.ranges)}
        samples = spec.max_jobs
    if spec.strategy == "Bayesian":
        searcher: Any = ConcurrencyLimiter(
            OptunaSearch(metric=metric, mode=spec.mode, seed=0), max_concurrent=spec.max_parallel_jobs
        )
    else:
        searcher = BasicVariantGenerator(max_concurrent=spec.max_parallel_jobs, random_state=0)
    scheduler = None
    stop = spec.static_hyperparameters.get(hp.STOP_PREFIX + hp.STOP_TRAINING_ITERATION)
    if spec.early_stopping_type == "Auto":
        scheduler = ASHAScheduler(
            time_attr="job_iteration",
            max_t=int(stop) if isinstance(stop, int) else 1000,
            grace_period=1,
            reduction_factor=2,
        )
    from tqdm import tqdm  # heavy: progress bars

    class _TrialProgress(tune.Callback):
        """A progress bar over finished trials (Tune's own output is silenced)."""

        def __init__(self) -> None:
            self.bar = tqdm(total=spec.max_jobs, desc="tuning", unit="job", file=sys.stderr)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.bar.update(1)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.bar.update(1)

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            self.bar.close()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    # The trials' Ray is this process's own (_own_ray): token authentication guards nothing there.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    logging.getLogger("optuna").setLevel(logging.WARNING)  # its "A new study created in memory" line
    node, ray_dir = _own_ray(cpus_for_trials(spec, out))
    interruption = TuneInterruption()
    tune_log = logging.getLogger("ray.tune.tune")
    tune_log.addFilter(interruption)
    stopped: list[str] = []

    def on_stop(signum: int, frame: Any) -> None:
        # SageMaker's stop (SIGTERM) and a closed terminal (SIGHUP): Ray Tune's own graceful stop, as Ctrl-C's.
        if not stopped:
            stopped.append(signal.Signals(signum).name)
            os.kill(os.getpid(), signal.SIGINT)

    stops = (signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, on_stop) for s in stops}  # after ray.init, which installs its own (exit at once)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(
                trial_class(), spec=spec, jobs_dir=str(jobs_dir), repo_root=repo_root, environment=environment
            ),
            {"cpu": spec.cpus_per_job},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric=metric, mode=spec.mode, search_alg=searcher, scheduler=scheduler, num_samples=samples
            ),  # both searchers limit concurrency themselves
            run_config=tune.RunConfig(
                name="rlrt-tune",
                storage_path=str(output / "ray_results"),
                verbose=0,
                callbacks=[_TrialProgress()],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        with warnings.catch_warnings():
            # Optuna wants choices of None, bool, int, float or str "for persistent storage"; this study lives in
            # memory, so a list-valued choice (a learning-rate schedule, a layer list) is fine as it is, and the
            # warning would name nothing a user could change.
            warnings.filterwarnings("ignore", message=OPTUNA_CHOICES_WARNING, category=UserWarning)
            grid = tuner.fit()
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
        tune_log.removeFilter(interruption)
        ray.shutdown()
        node.kill()  # its trials' actors with it: a job still running gets SIGTERM (its parent died) and stops
        shutil.rmtree(ray_dir, ignore_errors=True)
        stuck = wait_for_jobs(jobs_dir)
        if stuck:
            print(f"rlrt: killed training jobs that did not stop within 120 s: {stuck}", file=out, flush=True)
    if interruption.interrupted:
        print(
            f"rlrt: interrupted ({stopped[0] if stopped else 'Ctrl-C'}): the running trials were stopped (each job "
            "saved a checkpoint in its tree); the trials so far:",
            file=out,
            flush=True,
        )
    outcome = summarise(spec, grid, output, out, interrupted=interruption.interrupted)
    outcome.interrupted = interruption.interrupted
    outcome.stopped_by = stopped[0] if stopped else "SIGINT"
    return outcome


def cpus_for_trials(spec: TuningSpec, out: Any) -> int:
    """The CPUs the trials' Ray gets: ``max_parallel_jobs * cpus_per_job``, within what this machine may use (Ray
    Tune then runs as many trials at a time as fit, one line says so); a ``cpus_per_job`` over this host's CPUs is
    refused, naming it, its value and the host's count (each trial's job would refuse its SM_NUM_CPUS)."""
    if spec.cpus_per_job > host_cpus():
        raise UserError(
            f"cpus_per_job is {spec.cpus_per_job}, but this host has {machine_line()}: each trial is a "
            f"training job on this host. Give cpus_per_job from 1 to {host_cpus()}."
        )
    asked, usable = spec.max_parallel_jobs * spec.cpus_per_job, max(usable_cpus(), spec.cpus_per_job)
    if asked <= usable:
        return asked
    print(
        f"rlrt: max_parallel_jobs {spec.max_parallel_jobs} x cpus_per_job {spec.cpus_per_job} = {asked} CPUs, but "
        f"this machine has {machine_line()}: running {usable // spec.cpus_per_job} trial(s) at a time",
        file=out,
        flush=True,
    )
    return usable


def _own_ray(num_cpus: int) -> tuple[RayNode, Path]:
    """Start the trials' Ray as a node of its own (``ray start --head`` in a process group of its own, as a training
    job's Ray) and join it. With ``ray.init(address="local")`` Ray's processes were in this process's group, so a
    SIGTERM to the group (SageMaker's stop, ``kill -TERM -PGID``) killed the raylet under Ray Tune's graceful stop,
    which then waited without end; now only this process gets it, and stops the trials. Its own folder and port: never a
    cluster named by RAY_ADDRESS or by a stale ``ray_current_cluster`` file an earlier ``ray start`` left behind."""
    import ray  # heavy: Ray and RLlib (~4 s)

    folder = Path(tempfile.mkdtemp(prefix="rlrt-ray-", dir=ray_temp_root()))
    port = free_ports(1)[0]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_process_group_cleanup_enabled": "0"}
    with (folder / "ray-start.log").open("w") as log:
        node = RayNode(
            ["--head", f"--port={port}", "--include-dashboard=false", f"--num-cpus={num_cpus}", "--num-gpus=0"],
            env=env,
            temp_dir=str(folder),
            output=log,
        )
    failed = node.wait_until_open("127.0.0.1", port, RAY_START_S)
    if failed is not None:
        node.kill()
        raise RuntimeError(f"The trials' Ray (`ray start --head`) {failed}: see {folder / 'ray-start.log'}")
    ray.init(address=f"127.0.0.1:{port}", log_to_driver=False, configure_logging=False)
    return node, folder


def run_tuning_job(file: Path, output: Path | None = None, *, plugins: Plugins) -> int:
    """``rlrt tune FILE``: through the single failure path (``output/failure`` under the output folder); ``plugins``
    check the trials' hyperparameters before any runs."""
    given = output.resolve() if output is not None else None
    folder = given or default_folder()  # the claimed one once the file is read (own_output)
    STOPS.release()  # Ray Tune stops its trials on SIGINT itself (SIGTERM, SIGHUP passed to it as SIGINT: run_tuning)

    def job() -> int:
        nonlocal folder
        spec = load_tuning_spec(file)
        with own_output(given) as folder:
            print(
                f"rlrt: tuning {len(spec.ranges)} hyperparameter(s) over {spec.max_jobs} job(s), "
                f"{spec.max_parallel_jobs} at a time ({spec.strategy}, early stopping {spec.early_stopping_type}); "
                f"{spec.objective_type} {spec.objective_metric_name}; output in {folder}",
                flush=True,
            )
            outcome = run_tuning(spec, folder, plugins)
        if outcome.interrupted:
            write_failure(
                folder / "output" / "failure",
                f"Interrupted ({outcome.how}): the tuning job stopped before "
                f"its trials finished; the finished ones are in {folder / RESULTS_CSV}.",
            )
            return signal_exit_code(outcome.stopped_by)
        return 0

    return run_job(job, lambda: folder / "output" / "failure")
