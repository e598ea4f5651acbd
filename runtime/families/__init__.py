"""Environment families as plug-ins: what a family of environments adds to a generic job.

A family (DeepRacer today; a future one is a module and a line in :data:`FAMILIES`) is an object with:

- ``name`` and ``claims(env_id) -> bool``: which environments it owns;
- ``channels``: the input channels it reads (documentation and the job's channel check);
- ``rewrite_hyperparameters(preset, given) -> (given, extras, problems)``: its hyperparameter dialect, applied by
  :func:`runtime.job.setup.resolve_spec` for every command that resolves hyperparameters (train, tune);
- ``training_hooks(job, spec) -> TrainingHooks``: its files in and outputs out during training;
- ``evaluate(job, model, hyperparameters, overrides, out) -> int``: its own evaluation of a model trained on one
  of its environments (e.g. DeepRacer's laps and ``evaluation_metrics.json``).

The generic path (hyperparameters, the loop driver, the evaluator) asks :func:`family_for` and never names a
family. Environment families that need only the job's context in ``env_config`` (Unity games: the ``train``
channel and the log folder) declare that in :mod:`envs.registry` (``job_context``) and need no plug-in.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, TextIO

if TYPE_CHECKING:
    from runtime.config.hyperparameters import TrainingSpec
    from runtime.config.presets import Preset
    from runtime.train.checkpoints import TrainingState
    from runtime.train.reporting import IterationMetrics

FAMILIES: tuple[str, ...] = ("runtime.families.deepracer",)
"""Family modules (each exposes ``FAMILY``)."""


class TrainingHooks:
    """Extension points of the training loop for a family with its own inputs and outputs (e.g. DeepRacer's
    training_metrics.json and simtrace). Every method has a do-nothing default."""

    coach_line_per_iteration: bool = True
    """Whether the reporter prints its per-iteration ``Training>`` line (off when the hooks print per episode)."""

    def prepare(self, spec: "TrainingSpec") -> "TrainingSpec":
        """Adjust the spec before anything is built (e.g. add the job's file paths to env_config)."""
        return spec

    def configure(self, config: Any) -> None:
        """Adjust the backend's algorithm configuration before the algorithm is built."""

    def pretrained(self, spec: "TrainingSpec") -> tuple[Path, str] | None:
        """A model to warm-start from named in the family's own terms (DeepRacer's ``pretrained_s3_prefix``) and how
        it was named; None when the family's hyperparameters name none (see :mod:`runtime.train.warm_start`)."""
        return None

    def on_iteration(self, algo: Any, result: Mapping[str, Any], state: "TrainingState", metrics: "IterationMetrics",
                     out: TextIO) -> None:
        """Called after each iteration has been reported."""

    def stop_reason(self, state: "TrainingState", metrics: "IterationMetrics") -> str | None:
        """An extra stop criterion; None to go on."""
        return None

    def translate_error(self, exc: BaseException) -> BaseException | None:
        """Turn an error raised while training (e.g. in an env runner) into a clearer one, or None."""
        return None

    def on_export(self, model_dir: Path) -> None:
        """Called after the model directory is written."""

    def close(self) -> None:
        """Called once at the end, whatever happened."""


def family_for(env_id: str) -> Any | None:
    """The ``FAMILY`` that owns ``env_id`` (an id or alias), or None for a plain environment."""
    for name in FAMILIES:
        family = importlib.import_module(name).FAMILY
        if family.claims(env_id):
            return family
    return None


def rewrite_hyperparameters(preset: "Preset", given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The dialect of the family that owns the job's environment (``rl.training.env`` or the preset's); others pass."""
    from runtime.config import hyperparameters as hp

    family = family_for(str(given.get(hp.ENV, preset.env)))
    if family is None:
        return dict(given), {}, []
    return family.rewrite_hyperparameters(preset, given)


def training_hooks(job: Any, spec: "TrainingSpec") -> TrainingHooks:
    """The training hooks of the family that owns ``spec.env`` (do-nothing hooks for a plain environment)."""
    family = family_for(spec.env)
    return family.training_hooks(job, spec) if family is not None else TrainingHooks()
