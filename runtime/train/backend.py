"""The interface between the one loop driver (:mod:`runtime.train.driver`) and a training library.

A backend module (see :mod:`runtime.backends`) builds a :class:`Backend` from a :class:`BackendContext`; the driver
then calls, top to bottom: ``restore`` (when a checkpoint exists), ``step`` once per iteration, ``save`` at the
checkpoint cadence and at the end, ``model_info`` and ``export`` for the model folder, ``close`` whatever happened.
RLlib (online) and d3rlpy (offline) are the two implementations; a third touches no driver code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol, TextIO

from runtime.config.hyperparameters import TrainingSpec
from runtime.families import TrainingHooks
from runtime.job.environment import JobEnvironment
from runtime.train.checkpoints import TrainingState
from runtime.train.reporting import IterationMetrics


@dataclass(frozen=True)
class BackendContext:
    """What a backend is built from."""

    job: JobEnvironment
    spec: TrainingSpec
    """Resolved, checked, and prepared by the environment family's hooks."""
    env_id: str | None
    """The canonical environment id (None: an offline job with no environment)."""
    hooks: TrainingHooks
    out: TextIO
    cluster: Any = None
    """The multi-host Ray cluster the driver is connected to (runtime.cluster), or None."""


@dataclass(frozen=True)
class Step:
    """What one iteration did."""

    env_steps: int
    """Steps added to ``timesteps_total``: environment steps (online) or gradient steps (offline)."""
    episodes: int
    metrics: IterationMetrics
    """The iteration's metric lines (episode numbers, throughput); counters are filled in by the driver."""
    lines: tuple[str, ...] = ()
    """Further ``name: value`` lines to print after the metric lines (offline: OPE estimates, losses)."""
    result: Mapping[str, Any] = field(default_factory=dict)
    """The library's own result, for the family hooks."""
    interrupted: bool = False
    """SIGTERM arrived during the iteration, which was cut short: its work is checkpointed, not reported."""


@dataclass(frozen=True)
class ModelInfo:
    """What ``metadata.json`` records about the trained policy."""

    framework: str
    observation_space: Any
    action_space: Any
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further metadata keys (e.g. the offline data it was trained on)."""


class Backend(Protocol):
    """One training session of a library (built by the backend module's ``BACKEND.create(context)``)."""

    algo: Any
    """The library's algorithm object (handed to the family hooks)."""
    units: tuple[str, str]
    """What an iteration and a timestep are called in messages, e.g. ("iteration", "steps"), ("epoch", "gradient
    steps")."""

    def describe(self) -> str:
        """One line on what is trained, e.g. ``PPO on CartPole-v1``."""
        ...

    def restore(self, checkpoint: Path) -> None:
        """Load the state saved by :meth:`save` into the session."""
        ...

    # Optional: ``checkpoint_spaces() -> (observation_space, action_space)``, the policy's gymnasium spaces,
    # recorded in each checkpoint so that a job with other spaces refuses to resume from it.
    # Optional: ``load_weights(checkpoint)``, the warm start (runtime.train.warm_start): only the policy's weights
    # of a checkpoint, not the library's counters; without it a warm start uses ``restore``.

    def step(self, state: TrainingState, stop_requested: Any) -> Step:
        """Run one iteration; ``stop_requested()`` turns true when SIGTERM arrives (a long iteration may end early)."""
        ...

    def save(self, folder: Path) -> None:
        """Write the library's checkpoint into ``folder``."""
        ...

    def finish(self) -> tuple[ModelInfo, Mapping[str, Any]]:
        """After the last iteration: settle the policy to export (e.g. the best epoch) and describe it; returns its
        metadata and extra ``training`` metadata."""
        ...

    def export(self, model_dir: Path, state: TrainingState) -> None:
        """Write the serving exports into ``model_dir`` (the one export pipeline) and run what the library does after
        training (e.g. an evaluation of the exported policy)."""
        ...

    def close(self) -> None:
        """Release the library's resources (processes, Ray)."""
        ...
