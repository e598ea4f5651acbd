"""What a command runs in: its job (the ``/opt/ml`` tree read through sagemaker-training, and the hyperparameters).
:func:`runtime.job.setup.open_job` makes it; plug-ins (an environment family's evaluation) are handed it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from runtime.job.environment import JobEnvironment


@dataclass(frozen=True)
class Job:
    """A command's job: its environment and the hyperparameters it runs with."""

    env: JobEnvironment
    hyperparameters: Mapping[str, Any]
    """``hyperparameters.json`` with the command line's ``--set`` overrides on top."""
    overrides: Mapping[str, Any]
    """The command line's overrides alone."""
    local: bool
    """A local tree this command created (not one SageMaker or ``docker run`` made)."""
