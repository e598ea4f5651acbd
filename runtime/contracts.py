"""The plug-in contracts: what a training backend and an environment family give the one job path, and the one
lookup of which plug-in trains an algorithm, loads or exports a model, or owns an environment.

This module is the floor between the services it names in its types (the spec, the job, a checkpoint's state, a
metric line, the serving model) and everything that uses a plug-in: the loop driver, the job setup, the evaluator
and ``rlrt export`` depend on these contracts and are handed a :class:`Plugins`; they never import a plug-in
package. Only :mod:`runtime.plugins` names the installed plug-ins (docs/ARCHITECTURE.md, "Floors").

- A **backend** (:class:`BackendFactory`; RLlib online, d3rlpy offline) checks ``rl.training.config.*``, builds a
  :class:`TrainingSession` for the driver, and owns its model I/O: rebuilding the serving model from a model folder
  and loading a policy for evaluation.
- An **environment family** (:class:`Family`; DeepRacer) adds its hyperparameter dialect, its training hooks
  (:class:`TrainingHooks`) and its own evaluation to a generic job (both defined in :mod:`runtime.family_contract`,
  named here with the others).

Each plug-in contract is an abstract base class: a plug-in subclasses it, inherits the optional methods' defaults, and
cannot be instantiated while a required (``@abstractmethod``) method is missing (``TypeError`` naming it);
``tests/unit/test_contracts.py`` checks every installed plug-in against its contract. :class:`EarlyStart` (a
handle a backend returns) and :class:`EnvironmentSource` (implemented below this floor) stay protocols.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, TextIO

from runtime.cluster.plan import ClusterInfo
from runtime.config import hyperparameters as hp
from runtime.config.hyperparameters import ConfigValidator
from runtime.config.presets import Preset
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.export.policy import ServingModels
from runtime.family_contract import Family, TrainingHooks
from runtime.job.environment import JobEnvironment
from runtime.train.checkpoints import TrainingState
from runtime.train.reporting import IterationMetrics

if TYPE_CHECKING:
    from gymnasium.spaces import Space

Actor = Callable[[Any], Any]
"""One observation -> one action (the evaluator's and the rollout videos' view of a policy)."""

DEFAULT_FRAMEWORK = "rllib"
"""The backend of a model folder whose ``metadata.json`` names no ``framework`` (written before it was recorded)."""


class EarlyStart(Protocol):
    """A backend's machinery started before the spec is resolved (RLlib: Ray); handed to the session it was for."""

    def cancel(self) -> None:
        """The job does not train with this backend after all (or its spec was rejected): stop what was started."""
        ...


@dataclass(frozen=True)
class BackendContext:
    """What a backend builds its training session from."""

    job: JobEnvironment
    spec: TrainingSpec
    """Resolved, checked, and prepared by the environment family's hooks."""
    env_id: str | None
    """The canonical environment id (None: an offline job with no environment)."""
    hooks: TrainingHooks
    out: TextIO
    cluster: ClusterInfo | None = None
    """The multi-host Ray cluster the driver is connected to (runtime.cluster), or None."""
    early_start: EarlyStart | None = None
    """What the factory's :meth:`BackendFactory.start_early` started for this job, or None."""


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
    observation_space: Space[Any]
    action_space: Space[Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further metadata keys (e.g. the offline data it was trained on)."""


class TrainingSession(ABC):
    """One training session of a library, built by :meth:`BackendFactory.create`. The driver calls, top to bottom:
    ``restore`` (a checkpoint exists) or ``load_weights`` (a warm start), ``step`` once per iteration, ``save`` at
    the checkpoint cadence and at the end, ``finish``, ``write_model`` and ``serving_model`` for the model folder,
    ``close`` whatever happened. The methods that are not abstract are optional: their body is the default."""

    units: tuple[str, str] = ("iteration", "steps")
    """What an iteration and a timestep are called in messages, e.g. ("iteration", "steps")."""

    @abstractmethod
    def describe(self) -> str:
        """One line on what is trained, e.g. ``PPO on CartPole-v1``."""

    @abstractmethod
    def restore(self, checkpoint: Path) -> None:
        """Load the state saved by :meth:`save` into the session."""

    @abstractmethod
    def step(self, state: TrainingState, stop_requested: Callable[[], bool]) -> Step:
        """Run one iteration; ``stop_requested()`` turns true when SIGTERM arrives (a long iteration may end early)."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write the library's checkpoint into ``folder``."""

    @abstractmethod
    def finish(self) -> tuple[ModelInfo, Mapping[str, Any]]:
        """After the last iteration: settle the policy to export (e.g. the best epoch) and describe it; returns its
        metadata and extra ``training`` metadata."""

    @abstractmethod
    def serving_model(self, model_dir: Path) -> ServingModels:
        """The policy to export from the model folder just written (``model_dir``), for the one export pipeline
        (:func:`runtime.export.pipeline.export_serving_models`); a multi-agent model: one per policy id."""

    @abstractmethod
    def close(self) -> None:
        """Release the library's resources (processes, Ray)."""

    def checkpoint_spaces(self) -> tuple[Space[Any], Space[Any]] | None:
        """The policy's (observation, action) gymnasium spaces, recorded in each checkpoint so that a job with other
        spaces refuses to resume from it; None: checkpoints are compared by algorithm and environment alone."""
        return None

    def load_weights(self, checkpoint: Path) -> None:
        """The warm start (:mod:`runtime.train.warm_start`): only the policy's weights of a checkpoint, not the
        library's counters. Default: :meth:`restore`."""
        self.restore(checkpoint)

    def rollout_actor(self) -> Actor | None:
        """The current policy, greedy, for rollout videos and the final evaluation; None: the session has none."""
        return None

    def write_model(self, model_dir: Path) -> None:  # noqa: B027 - optional: doing nothing is the default
        """After the model folder is written: replace what the library keeps of the exported policy in it (d3rlpy:
        the selected epoch's weights). Default: nothing (the checkpoint copy is the model)."""

    def final_evaluation_episodes(self) -> int:
        """Episodes the driver plays with the exported policy after training (``evaluation.json``); 0: none."""
        return 0


def library_name(algorithm: str, names: tuple[str, ...]) -> str | None:
    """The one of ``names`` (a library's own algorithm names) that ``algorithm`` spells in any case, or None."""
    return next((name for name in names if name.casefold() == algorithm.strip().casefold()), None)


class BackendFactory(ABC):
    """A training library behind the one job path (``BACKEND`` of a module under :mod:`runtime.backends`)."""

    name: str = ""
    """What ``rl.training.backend`` names it by, and the ``framework`` its model folders record in
    ``metadata.json``."""
    algorithms: tuple[str, ...] = ()
    """The algorithms it trains (a preset's ``algorithm`` or ``rl.training.run``), as its library names them."""
    distributed: bool = False
    """Whether it trains across the hosts of a multi-host job (a Ray cluster)."""

    def claims(self, algorithm: str) -> bool:
        """Whether it trains ``algorithm``. Default: one of :attr:`algorithms`, whatever its case."""
        return library_name(algorithm, self.algorithms) is not None

    @abstractmethod
    def validator(self) -> ConfigValidator:
        """The check of its ``rl.training.config.*`` keys."""

    @abstractmethod
    def create(self, context: BackendContext) -> TrainingSession:
        """The training session the loop driver runs."""

    @abstractmethod
    def serving_model(self, model_dir: Path) -> ServingModels:
        """The serving model of one of its model folders, rebuilt from the checkpoint (``rlrt export``); a
        multi-agent model: one per policy id."""

    @abstractmethod
    def load_actor(self, model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
        """One of its models' deterministic policy, as ``rlrt evaluate`` plays it."""

    def find_model(self, source: Path, required: bool = False) -> tuple[Path, dict[str, Any]] | None:
        """A model of its own format in ``source``, a folder without ``metadata.json`` (the Batch RL seed's
        checkpoint channel holds a bare d3rlpy ``model.d3``): (model folder, metadata); None when there is none, or
        with ``required`` (the command expects this backend's model) a :class:`UserError` saying what is there."""
        return None

    def start_early(self, num_cpus: int, num_gpus: int) -> EarlyStart | None:
        """Start its machinery while the job's spec resolves (RLlib: Ray); None when it has none to start."""
        return None

    def quick_check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        """Problems with ``config`` (the ``rl.training.config.*`` the user gave, nested) found from data alone, before
        its library loads (RLlib: unknown keys, wrong types and ranges, named within a second), in the words of the
        full check (its validator), which finds the rest."""
        return []


class EnvironmentSource(Protocol):
    """Environments a job's own code registered at run time (a SageMaker RL launcher script's ``register_env``),
    which a later command (``rlrt evaluate``) rebuilds from what the model folder kept of that code. A protocol, not
    a base class: its one implementation (:mod:`sagemaker_rl.user_envs`) stands on a floor below the contracts."""

    def restore(self, env_id: str, model_dir: Path) -> bool:
        """Register ``env_id`` again from ``model_dir``; whether it did (False: not one of its environments)."""
        ...


def _choices(backends: tuple[BackendFactory, ...]) -> str:
    return "; ".join(f"{b.name}: {', '.join(b.algorithms)}" for b in backends)


@dataclass(frozen=True)
class Plugins:
    """The plug-ins a command runs with (:data:`runtime.plugins.INSTALLED`), and the one place that answers which of
    them trains an algorithm, reads a model folder, or owns an environment."""

    backends: tuple[BackendFactory, ...]
    """The installed backends. A job trains with the one ``rl.training.backend`` names; without it, with the first
    one here that trains its algorithm (the default of an algorithm two backends train: d3rlpy's CQL)."""
    families: tuple[Family, ...] = ()
    environment_sources: tuple[EnvironmentSource, ...] = ()

    def restore_environment(self, env_id: str, model_dir: Path) -> bool:
        """Register a job-registered environment (``env_id``) again from the model folder's kept code."""
        return any(source.restore(env_id, model_dir) for source in self.environment_sources)

    def backend_for(self, algorithm: str, name: str | None = None) -> BackendFactory:
        """The backend that trains ``algorithm``: the one ``name`` (``rl.training.backend``) names, else the first
        that trains it; a :class:`UserError` naming the choices when there is none."""
        if name is not None:
            backend = self.backend_named(name)
            if backend is None:
                close = difflib.get_close_matches(name.casefold(), [b.name for b in self.backends], n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise UserError(
                    f"Unknown backend 'rl.training.backend={name}'.{hint} The backends and their "
                    f"algorithms: {_choices(self.backends)}."
                )
            if not backend.claims(algorithm):
                others = [b.name for b in self.backends if b.claims(algorithm)]
                instead = f"; {algorithm} trains with {' or '.join(others)}" if others else ""
                raise UserError(
                    f"The backend {backend.name} (rl.training.backend) does not train '{algorithm}': "
                    f"{backend.name} trains {', '.join(backend.algorithms)}{instead}."
                )
            return backend
        backend = next((b for b in self.backends if b.claims(algorithm)), None)
        if backend is None:
            known = [a for b in self.backends for a in b.algorithms]
            close = difflib.get_close_matches(algorithm.upper(), [a.upper() for a in known], n=1)
            hint = f" Did you mean '{next(a for a in known if a.upper() == close[0])}'?" if close else ""
            raise UserError(
                f"Unknown algorithm '{algorithm}'.{hint} The backends and their algorithms: {_choices(self.backends)}."
            )
        return backend

    def training_backend(self, spec: TrainingSpec) -> BackendFactory:
        """The backend that trains ``spec`` (:meth:`backend_for`), refused with a :class:`UserError` when the family
        that owns the environment does not work with it (:attr:`Family.backends`)."""
        return self.fitting_backend(self.backend_for(spec.algorithm, spec.backend), spec)

    def fitting_backend(self, backend: BackendFactory, spec: TrainingSpec) -> BackendFactory:
        """``backend``, already chosen for ``spec`` (a job's plan holds it), refused with a :class:`UserError` when the
        family that owns the environment does not work with it (:attr:`Family.backends`)."""
        family = self.family_for(spec.env)
        if family is not None and backend.name not in family.backends:
            raise UserError(
                f"{spec.env} ({family.name}) trains only with the backend "
                f"{' or '.join(family.backends)}; this job's {spec.algorithm} trains with {backend.name}"
                f"{' (rl.training.backend)' if spec.backend else ''}. Choose an algorithm "
                f"{' or '.join(family.backends)} trains, or set rl.training.backend."
            )
        return backend

    def backend_named(self, framework: str) -> BackendFactory | None:
        """The backend named ``framework`` (``rl.training.backend``, or what a model folder records in
        ``metadata.json``), or None."""
        return next((backend for backend in self.backends if backend.name == framework.strip().casefold()), None)

    def backend_for_model(self, metadata: Mapping[str, Any]) -> BackendFactory | None:
        """The backend that wrote a model folder (its ``metadata.json`` ``framework``), or None when none did."""
        return self.backend_named(str(metadata.get("framework") or DEFAULT_FRAMEWORK))

    def require_backend_for_model(self, model_dir: Path, metadata: Mapping[str, Any]) -> BackendFactory:
        """:meth:`backend_for_model`, or a :class:`UserError` naming the model's framework."""
        backend = self.backend_for_model(metadata)
        if backend is None:
            raise UserError(
                f"{model_dir} was written by {metadata.get('framework')!r}, which no backend of this "
                f"rlrt reads (backends: {', '.join(b.name for b in self.backends)})."
            )
        return backend

    def find_model(self, source: Path, framework: str | None = None) -> tuple[Path, dict[str, Any]] | None:
        """A model of a backend's own format in a folder without ``metadata.json`` (only ``framework``'s when the
        command expects that kind: then a folder without one is a UserError), or None."""
        expected = self.backend_named(framework) if framework else None
        if expected is not None:
            return expected.find_model(source, required=True)
        return next((found for backend in self.backends if (found := backend.find_model(source)) is not None), None)

    def validator_for(self, algorithm: str, backend: str | None = None) -> ConfigValidator:
        """The configuration check of the backend that trains ``algorithm`` (``backend``: the one
        ``rl.training.backend`` names), for hyperparameter resolution."""
        return self.backend_for(algorithm, backend).validator()

    def family_for(self, env_id: str) -> Family | None:
        """The family that owns ``env_id`` (an id or alias), or None for a plain environment."""
        return next((family for family in self.families if family.claims(env_id)), None)

    def rewrite_hyperparameters(
        self, preset: Preset, given: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """The dialect of the family that owns the job's environment (``rl.training.env`` or the preset's)."""
        family = self.family_for(str(given.get(hp.ENV, preset.env)))
        if family is None:
            return dict(given), {}, []
        return family.rewrite_hyperparameters(preset, given)

    def training_hooks(self, job: JobEnvironment, spec: TrainingSpec) -> TrainingHooks:
        """The training hooks of the family that owns ``spec.env`` (do-nothing hooks for a plain environment)."""
        family = self.family_for(spec.env)
        return family.training_hooks(job, spec) if family is not None else TrainingHooks()
