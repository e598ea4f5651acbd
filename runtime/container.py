"""The container's entry point: SageMaker (and `docker run IMAGE ...`) call the image with `train` or `serve`.

- `train`: when the hyperparameters name a user script (`sagemaker_program`, as the SDK's script mode sets it with
  `entry_point=`/`source_dir=`), hand over to sagemaker-training, which fetches the source dir and runs the script
  (our seed-named entry points are such scripts); otherwise train with `rlrt train`.
- `serve`: `rlrt serve`.
- anything else is executed as a command (`docker run IMAGE bash`, `docker run IMAGE rlrt presets`).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Sequence

from runtime.errors import UserError, default_failure_file, run_job

USER_PROGRAM = "sagemaker_program"


def plan(argv: Sequence[str]) -> list[str]:
    """The command line the container runs for ``argv`` (the arguments after the image name)."""
    if not argv:
        raise UserError("The container needs a command: train, serve, or a program to run.")
    command, rest = argv[0], list(argv[1:])
    if command == "train":
        from runtime.job.environment import load_environment

        env = load_environment()
        if env.hyperparameters.get(USER_PROGRAM):
            return [_program("train"), *rest]
        return [sys.executable, "-m", "runtime.cli", "train", *rest]
    if command == "serve":
        return [sys.executable, "-m", "runtime.cli", "serve", *rest]
    return [command, *rest]


def _program(name: str) -> str:
    """A console script of this environment (next to the interpreter), else one on PATH."""
    local = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(local):
        return local
    found = shutil.which(name)
    if not found:
        raise UserError(f"'{name}' is not installed in this image.")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Work out what to run, then replace this process with it (so signals reach it directly)."""
    args = list(sys.argv[1:] if argv is None else argv)

    def job() -> int:
        command = plan(args)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            raise UserError(f"Cannot run {command[0]!r}: {exc}") from exc
        return 0  # not reached: execvp replaced this process

    return run_job(job, default_failure_file)
