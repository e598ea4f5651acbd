"""The container's entry point: SageMaker (and `docker run IMAGE ...`) call the image with `train` or `serve`.

- `train`: when the hyperparameters name a user script (`sagemaker_program`, as the SDK's script mode sets it with
  `entry_point=`/`source_dir=`), hand over to sagemaker-training (`runtime/toolkit.py`: its own lines left out or
  made rlrt's), which fetches the source dir and runs the script
  (our seed-named entry points are such scripts); otherwise train with `rlrt train`. Before the handover, a
  multi-host job's host names must resolve within a bounded wait (a single-host job needs none), so a tree copied
  from SageMaker never hangs in sagemaker-training's silent 15-minute wait. A source dir carrying its own copy of
  ``sagemaker_rl`` is refused, and rlrt's compatibility modules are made importable (runtime/job/script_mode.py).
  sagemaker-training runs as a child of this process, which passes SIGTERM, SIGINT and SIGHUP on to the script (the
  toolkit does not) and waits for it to save, up to a bound (runtime/job/script_stop.py), and, when the script
  fails, puts its last error in output/failure (runtime/job/script_failure.py).
- `serve`: `rlrt serve`.
- anything else is executed as a command (`docker run IMAGE bash`, `docker run IMAGE rlrt presets`).
- no command: `train` when the tree holds a training job's configuration (SageMaker SDK 3's ``ModelTrainer`` starts
  the image without one), else an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Sequence

from sagemaker_training import params

from runtime.cluster.node import resolve_host
from runtime.errors import UserError, default_failure_file, run_job
from runtime.job.environment import load_environment
from runtime.job.script_failure import StderrTail, explain_failure
from runtime.job.script_stop import ScriptStop, grace_s
from runtime.log_lines import quiet_unactionable_warnings
from runtime.job.script_mode import (
    complete_input_data_config,
    prepare_script_mode,
    source_files,
    stock_evaluation,
)
from runtime.names import BASE_DIR_ENV, CONFIG_DIR, DEFAULT_BASE_DIR, HYPERPARAMETERS_JSON

TOOLKIT_SKIPS_HOST_WAIT = "SM_STUDIO_LOCAL_MODE"
"""sagemaker-training skips its host-name wait when this is "true" (its only effect in sagemaker-training 4.9)."""
TOOLKIT_MODULE = "runtime.toolkit"
"""sagemaker-training's ``train`` with its log made rlrt's (:mod:`runtime.toolkit`)."""
COACH_EVALUATION, COACH_EVALUATION_MODULE = "evaluate-offline", "sagemaker_rl.coach_evaluate"
"""The Coach examples' evaluate-coach.py: rlrt's ``evaluate-offline``, run by the module that first fetches the source
dir and registers the preset's own environment."""
HOST_TIMEOUT_ENV = "RLRT_HOST_RESOLUTION_TIMEOUT_S"
DEFAULT_HOST_TIMEOUT_S = 300.0


def plan(argv: Sequence[str]) -> list[str]:
    """The command line the container runs for ``argv`` (the arguments after the image name)."""
    if not argv:
        argv = [_default_command()]
    command, rest = argv[0], list(argv[1:])
    if command == "train":
        env = load_environment()
        if env.hyperparameters.get(params.USER_PROGRAM_PARAM):
            files = source_files(env.hyperparameters)  # read once, for every check below
            evaluation = stock_evaluation(env.hyperparameters, files)
            if evaluation is not None:
                print(
                    f"rlrt: {env.hyperparameters[params.USER_PROGRAM_PARAM]} in the source dir is a SageMaker RL "
                    "example's own evaluation script, written for what rlrt does not have (Ray 1.x's "
                    f"ray.rllib.agents, Coach); rlrt's evaluator (`rlrt {evaluation}`) plays the model with the "
                    "same hyperparameters and output lines instead",
                    flush=True,
                )
                if evaluation == COACH_EVALUATION:  # with the source dir, for a preset's own environment
                    return [sys.executable, "-m", COACH_EVALUATION_MODULE, *rest]
                return [sys.executable, "-m", "runtime.cli", evaluation, *rest]
            resolve_hosts(env.hosts)
            prepare_script_mode(env.hyperparameters, files)
            complete_input_data_config(env.config_dir, env.channels)
            # sagemaker-training writes output/failure when the script fails; without the folder (a docker run tree)
            # that write raises inside its error handler, and the job exits 0 with no failure reported.
            env.output_dir.mkdir(parents=True, exist_ok=True)
            # Resolved here (or not needed): sagemaker-training's own wait, up to 15 minutes in silence, is skipped.
            os.environ[TOOLKIT_SKIPS_HOST_WAIT] = "true"
            return [sys.executable, "-m", TOOLKIT_MODULE, *rest]
        return [sys.executable, "-m", "runtime.cli", "train", *rest]
    if command == "serve":
        return [sys.executable, "-m", "runtime.cli", "serve", *rest]
    return [command, *rest]


def _default_command() -> str:
    """``train`` when the job tree holds a training job's configuration (SageMaker SDK 3's ``ModelTrainer`` starts
    the image without a command); otherwise a :class:`UserError`."""
    base = Path(os.environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR)
    if (base / CONFIG_DIR / HYPERPARAMETERS_JSON).is_file():
        print(
            f"rlrt: no command given and {base / CONFIG_DIR / HYPERPARAMETERS_JSON} exists: training, as `train` does",
            flush=True,
        )
        return "train"
    raise UserError(
        "The container needs a command: train, serve, or a program to run. With none, it trains when "
        f"{base / CONFIG_DIR / HYPERPARAMETERS_JSON} (a training job's configuration) exists; it does "
        "not."
    )


def resolve_hosts(hosts: Sequence[str], timeout_s: float | None = None) -> None:
    """Wait (at most ``timeout_s``, default ``RLRT_HOST_RESOLUTION_TIMEOUT_S`` or 300 s) until every host name of a
    multi-host job resolves, as SageMaker's hosts do while a cluster boots; a :class:`UserError` names those that do
    not. A single-host job needs no name resolution (a tree copied from SageMaker into ``docker run`` names a host
    that does not exist there)."""
    if len(hosts) <= 1:
        return
    if timeout_s is None:
        try:
            timeout_s = float(os.environ.get(HOST_TIMEOUT_ENV) or DEFAULT_HOST_TIMEOUT_S)
        except ValueError as exc:
            raise UserError(
                f"{HOST_TIMEOUT_ENV} must be a number of seconds, got {os.environ.get(HOST_TIMEOUT_ENV)!r}"
            ) from exc
    deadline = time.monotonic() + timeout_s
    pending = []
    for host in hosts:
        try:
            resolve_host(host, max(0.0, deadline - time.monotonic()))
        except UserError:
            pending.append(host)
    if pending:
        raise UserError(
            f"The host name(s) {', '.join(pending)} of this {len(hosts)}-host job (resourceconfig.json) did not "
            f"resolve within {timeout_s:g} s. On SageMaker every host resolves once the cluster is up; under "
            f"docker run, give the containers those names on one network, or run one host "
            f'("hosts": ["{hosts[0]}"]). {HOST_TIMEOUT_ENV} sets the wait.'
        )


def run_forwarding_sigterm(command: Sequence[str], program: str = "") -> int:
    """Run sagemaker-training's ``train`` as a child and pass each stop signal on to the user's script, then wait for
    it within a bounded grace period (runtime/job/script_stop.py): sagemaker-training passes none on, so a stopped
    script-mode job (a spot interruption) would never checkpoint. Returns the toolkit's code, or after a stop the
    script's outcome (0 when it exited 0, else 143, 130 or 129). Its stderr (the script's too) passes through this
    process, so that when the script ``program`` fails the failure file names its last error
    (runtime/job/script_failure.py), not only its exit code; not in a terminal, where the script's own stderr stays
    the terminal (its training progress bar is drawn only there) and its traceback is on the screen."""
    capture = not _is_terminal(sys.stderr)
    grace = grace_s()
    # A process group of its own: a signal to the container's group (Ctrl-C, `kill -- -PGID`) reaches the script
    # once, passed on by this process, not twice (a second signal abandons what it saves) and not sagemaker-training,
    # which dies on it and leaves the script unwatched.
    child = subprocess.Popen(list(command), stderr=subprocess.PIPE if capture else None, process_group=0)
    tail = StderrTail(child.stderr) if child.stderr is not None else None
    stop = ScriptStop(child, program, grace)
    with stop.forwarding():
        code = stop.wait()
    text = tail.text() if tail is not None else ""
    if stop.signal_name:
        return stop.outcome(code, default_failure_file())
    if code != 0 and program and text:
        explain_failure(default_failure_file(), program, text, code)
    return code


def _is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is a terminal (False for none, or a closed one)."""
    try:
        return stream is not None and stream.isatty()
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Work out what to run, then replace this process with it (so signals reach it directly); a script-mode job
    runs sagemaker-training as a child instead, which passes stop signals on to the script."""
    args = list(sys.argv[1:] if argv is None else argv)
    quiet_unactionable_warnings()  # for what it runs too: a user's script imports its env's libraries first thing

    def job() -> int:
        command = plan(args)
        sys.stdout.flush()
        sys.stderr.flush()
        if command[1:3] == ["-m", TOOLKIT_MODULE]:  # sagemaker-training's `train`: script mode
            program = str(load_environment().hyperparameters.get(params.USER_PROGRAM_PARAM) or "")
            return run_forwarding_sigterm(command, program)
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            raise UserError(f"Cannot run {command[0]!r}: {exc}") from exc
        return 0  # not reached: execvp replaced this process

    return run_job(job, default_failure_file)


if __name__ == "__main__":  # `python -m runtime.container train` (the image's entry point, entrypoints/container.py)
    sys.exit(main())
