"""The contract of an environment family (:class:`Family`; DeepRacer): its hyperparameter dialect, its hooks into the
training loop (:class:`TrainingHooks`) and its own evaluation. One of the plug-in contracts, named with the others by
:mod:`runtime.contracts` (where a family's author finds it); a family subclasses :class:`Family`, which cannot be
instantiated while a required (``@abstractmethod``) method is missing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, TextIO

from runtime.config.presets import Preset
from runtime.config.spec import TrainingSpec
from runtime.job.context import Job
from runtime.job.environment import JobEnvironment
from runtime.train.checkpoints import TrainingState
from runtime.train.reporting import IterationMetrics

if TYPE_CHECKING:
    # configure's type; a family names it from here, so that no family imports RLlib, not even for a type.
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig


class TrainingHooks:
    """Extension points of the training loop for a family with its own inputs and outputs (e.g. DeepRacer's
    training_metrics.json and simtrace). Every method has a do-nothing default."""

    coach_line_per_iteration: bool = True
    """Whether the reporter prints its per-iteration ``Training>`` line (off when the hooks print per episode)."""

    def prepare(self, spec: TrainingSpec) -> TrainingSpec:
        """Adjust the spec before anything is built (e.g. add the job's file paths to env_config)."""
        return spec

    def configure(self, config: AlgorithmConfig) -> None:
        """Adjust RLlib's algorithm configuration before the algorithm is built: the one hook a family has into a
        library's own configuration, called by the RLlib backend only (DeepRacer, the one family, trains with RLlib;
        the d3rlpy backend trains no environment family)."""

    def pretrained(self, spec: TrainingSpec) -> tuple[Path, str] | None:
        """A model to warm-start from named in the family's own terms (DeepRacer's ``pretrained_s3_prefix``) and how
        it was named; None when the family's hyperparameters name none (see :mod:`runtime.train.warm_start`)."""
        return None

    def on_iteration(
        self, result: Mapping[str, Any], state: TrainingState, metrics: IterationMetrics, out: TextIO
    ) -> None:
        """Called after each iteration has been reported, with the library's own result of it."""

    def stop_reason(self, state: TrainingState, metrics: IterationMetrics) -> str | None:
        """An extra stop criterion; None to go on."""
        return None

    def translate_error(self, exc: BaseException) -> BaseException | None:
        """Turn an error raised while training (e.g. in an env runner) into a clearer one, or None."""
        return None

    def on_export(self, model_dir: Path) -> None:
        """Called after the model directory is written."""

    def close(self) -> None:
        """Called once at the end, whatever happened."""


class Family(ABC):
    """An environment family with its own hyperparameter names, files and outputs (``FAMILY`` of a package under
    :mod:`runtime.families`). Families that need only the job's context in ``env_config`` (Unity games) declare it in
    :mod:`envs.registry` and need no plug-in."""

    name: str = ""
    channels: tuple[str, ...] = ()
    """The input channels it reads."""
    backends: tuple[str, ...] = ()
    """The backends (:attr:`BackendFactory.name`) its hooks and evaluation work with; a job that names another is
    refused at start (:meth:`Plugins.training_backend`)."""

    @abstractmethod
    def claims(self, env_id: str) -> bool:
        """Whether it owns ``env_id`` (an id or alias)."""

    @abstractmethod
    def rewrite_hyperparameters(
        self, preset: Preset, given: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """Its hyperparameter dialect: (given in rlrt's grammar, accepted extras, problems)."""

    @abstractmethod
    def training_hooks(self, job: JobEnvironment, spec: TrainingSpec) -> TrainingHooks:
        """Its files in and outputs out during training."""

    @abstractmethod
    def evaluate(
        self,
        job: Job,
        model: Path,
        hyperparameters: Mapping[str, Any],
        overrides: Mapping[str, Any],
        out: TextIO | None = None,
        **options: Any,
    ) -> int:
        """Its own evaluation of a model trained on one of its environments; returns the exit code."""
