"""The training specification: what hyperparameter resolution (:func:`runtime.config.hyperparameters.resolve`)
makes of a job's hyperparameters, checked, and what the driver, the backends and the model folder read; saved with the
model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from runtime.config.threads import Threads


@dataclass(frozen=True)
class TrainingSpec:
    """Everything a training driver needs, resolved and checked; saved next to the model."""

    preset: str
    """The preset whose settings it trains with, else where they came from (``space-defaults/DQN-discrete``)."""
    env: str
    algorithm: str
    config: Mapping[str, Any]
    """Algorithm configuration in the backend's current names (old names already translated)."""
    env_config: Mapping[str, Any]
    stop: Mapping[str, Any]
    checkpoint_frequency: int
    checkpoint_keep: int
    seed: int | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Accepted top-level parameters other commands read (evaluation, cluster)."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    """The hyperparameters as given (minus ``sagemaker_*``), for the record."""
    pass_bar: tuple[str, float] | None = None
    """The preset's pass bar (metric, value) when the job trains its env and algorithm (the learning curve draws it)."""
    backend: str | None = None
    """The backend ``rl.training.backend`` names; None: the algorithm's default backend."""
    threads: Threads | None = None
    """The threads of each of the job's processes (runtime.config.threads), chosen when the job's setup resolves it."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (the resolved configuration saved with the model)."""
        plain: dict[str, Any] = json.loads(
            json.dumps(
                {
                    "preset": self.preset,
                    "env": self.env,
                    "algorithm": self.algorithm,
                    "backend": self.backend,
                    "config": _plain(self.config),
                    "env_config": _plain(self.env_config),
                    "stop": _plain(self.stop),
                    "checkpoint_frequency": self.checkpoint_frequency,
                    "checkpoint_keep": self.checkpoint_keep,
                    "seed": self.seed,
                    "extras": _plain(self.extras),
                    "hyperparameters": _plain(self.hyperparameters),
                    "threads": self.threads.record() if self.threads is not None else None,
                },
                default=str,
            )
        )
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
