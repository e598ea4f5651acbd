"""A training job's plan: its hyperparameters resolved in one place, once, into what every stage of the job reads.

:func:`plan_job` makes the plan's first part from the raw hyperparameters within milliseconds, before any backend's
library loads (RLlib's import alone takes ~4 s): the preset, chosen and parsed once; the algorithm and the backend
that trains it, chosen once; the environment, the seed, the stop criteria given, the pass bar and the name of a new
tree. The quick check, the early start of the backend's machinery and the tree's name read that part.
:func:`runtime.job.setup.resolve_plan` completes it with the checked :class:`TrainingSpec` (the backend's full
check of ``rl.training.config.*``, which may import its library) from the same preset and backend; the stop note,
the driver and the model folder (``config.yaml``) read the spec the plan holds. Nothing after :func:`plan_job`
parses a preset or chooses a backend again.

A plan never raises while it is made: what is wrong with the hyperparameters is kept (:attr:`JobPlan.problem`,
:attr:`PresetChoice.error`) and raised by the stage that reports it today, so that a job names its mistakes in the
same order, with the same words, as before there was a plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.config.hyperparameters import PresetChoice, choose_preset
from runtime.config.presets import DEFAULT_PRESET
from runtime.config.spec import TrainingSpec
from runtime.contracts import BackendFactory, Plugins
from runtime.errors import UserError
from runtime.job.tree import tree_name

COMMAND_LINE = "this command"
STORED = "the tree's hyperparameters.json"
"""Where a setting came from (:attr:`JobPlan.origins`): the command line (``--set``, ``--hyperparameters``, a
launcher's translation), or the tree (an earlier local run's values, or SageMaker's)."""


@dataclass(frozen=True)
class JobPlan:
    """Everything a training job decides from its hyperparameters, decided once (:func:`plan_job`), then completed
    with the checked spec (:func:`runtime.job.setup.resolve_plan`). Frozen: a stage that needs something else asks
    for it here rather than reading the hyperparameters or the preset itself."""

    hyperparameters: Mapping[str, Any]
    """The job's hyperparameters as given (the tree's, the command line's on top; a launcher's job: only those rlrt
    reads), ``sagemaker_*`` and the tuner's objective left out. The one input of everything below."""
    origins: Mapping[str, str]
    """Where each hyperparameter given came from (SageMaker's own ``sagemaker_*`` too): :data:`COMMAND_LINE` or
    :data:`STORED`; an error about a stored one names the file (:mod:`runtime.train.job`)."""
    default_preset: str
    """The preset a job that names none starts from (``cartpole-ppo``; a launcher's or entry point's own base)."""
    choice: PresetChoice
    """The preset: its name, whether the job named it, the parsed :class:`runtime.config.presets.Preset` (its
    source: ``choice.preset.where``), or why there is none. Parsed here, and nowhere else during the job."""
    algorithm: str | None
    """The algorithm it trains in its library's spelling (``rl.training.run``, else the preset's: ``ppo`` ->
    ``PPO``); None when there is no preset to name it (:attr:`PresetChoice.error`)."""
    backend_name: str | None
    """The backend ``rl.training.backend`` names; None: the algorithm's default."""
    backend: BackendFactory | None
    """The backend that trains :attr:`algorithm` (:meth:`Plugins.backend_for`), chosen here once; None with
    :attr:`problem` saying why (an unknown algorithm or backend, or one that does not train the algorithm)."""
    problem: UserError | None
    """Why there is no backend: the quick check raises it, naming the setting."""
    env: str | None
    """The environment it trains (``rl.training.env``, RLlib's ``rl.training.config.env``, else the preset's)."""
    env_key: str | None
    """The hyperparameter that names the environment (``rl.training.env``, else ``rl.training.config.env``; None:
    neither is given), for the quick check of its id."""
    seed: int | None
    """``seed`` when it is an integer >= 0 (another value is refused when the spec resolves)."""
    config: Mapping[str, Any]
    """The ``rl.training.config.*`` settings given (not ``env_config``), nested as :func:`hp.resolve` nests them: what
    the quick check reads."""
    stop: Mapping[str, Any]
    """The ``rl.training.stop.*`` criteria given, by their full names (checked against the backend's stop keys)."""
    pass_bar: tuple[str, float] | None
    """The preset's pass bar (metric, value) when the job trains its environment and algorithm."""
    tree_hint: str
    """What a new local tree is named after (:func:`runtime.job.tree.tree_name` makes the folder's name of it):
    the preset named, else the shipped one the job trains with, else ``<env>-<algorithm>``; ``-s<seed>`` added."""
    spec: TrainingSpec | None = field(default=None)
    """The checked spec, once :func:`runtime.job.setup.resolve_plan` has completed the plan; None before."""

    def made_from(self, hyperparameters: Mapping[str, Any]) -> bool:
        """Whether the plan was made from ``hyperparameters`` (a new tree's job: the command line's, which named
        the tree), so that the job reads it rather than making another."""
        return dict(self.hyperparameters) == _rlrt_keys(hyperparameters)


def _rlrt_keys(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """``hyperparameters`` without those SageMaker adds (``sagemaker_*``, the tuner's objective)."""
    return {
        k: v for k, v in hyperparameters.items() if not k.startswith(hp.SAGEMAKER_PREFIX) and k != hp.TUNING_OBJECTIVE
    }


def given_config(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The ``rl.training.config.*`` hyperparameters (not ``env_config``), nested as hp.resolve nests them."""
    config: dict[str, Any] = {}
    for key, value in sorted(hyperparameters.items()):
        rest = key[len(hp.CONFIG_PREFIX) :] if isinstance(key, str) and key.startswith(hp.CONFIG_PREFIX) else ""
        if rest and rest != "env_config" and not key.startswith(hp.ENV_CONFIG_PREFIX):
            hp.set_nested(config, rest, value)
    return config


def plan_job(
    hyperparameters: Mapping[str, Any],
    plugins: Plugins,
    default_preset: str = DEFAULT_PRESET,
    overrides: Mapping[str, Any] | None = None,
) -> JobPlan:
    """The first part of a job's plan (see the module): made from ``hyperparameters`` alone, without importing any
    backend's library, and never raising. ``overrides``: which of them the command line gave (all when None)."""
    given = _rlrt_keys(hyperparameters)
    choice = choose_preset(given, default_preset)
    preset = choice.preset
    run = given.get(hp.RUN)
    named = run if isinstance(run, str) and run.strip() else None
    algorithm = named or (preset.algorithm if preset is not None else None)
    backend_name = given.get(hp.BACKEND)
    backend_name = backend_name if isinstance(backend_name, str) and backend_name.strip() else None
    backend: BackendFactory | None = None
    problem: UserError | None = None
    if algorithm is not None:
        try:
            backend = plugins.backend_for(algorithm, backend_name)
        except UserError as exc:
            problem = exc
        else:
            algorithm = backend.validator().algorithm_name(algorithm)  # a validator is data: no library loads
    env_key = next((k for k in (hp.ENV, hp.CONFIG_PREFIX + "env") if k in given), None)
    named_env = given.get(env_key) if env_key is not None else None
    env = named_env if isinstance(named_env, str) and named_env.strip() else preset.env if preset is not None else None
    seed = given.get(hp.SEED)
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else None
    pass_bar = None
    if preset is not None and preset.pass_bar is not None and backend is not None and env == preset.env:
        if algorithm == backend.validator().algorithm_name(preset.algorithm):
            pass_bar = (preset.pass_bar.metric, preset.pass_bar.value)
    return JobPlan(
        hyperparameters=MappingProxyType(given),
        origins=MappingProxyType(
            {k: COMMAND_LINE if overrides is None or k in overrides else STORED for k in hyperparameters}
        ),
        default_preset=default_preset,
        choice=choice,
        algorithm=algorithm,
        backend_name=backend_name,
        backend=backend,
        problem=problem,
        env=env,
        env_key=env_key,
        seed=seed,
        config=MappingProxyType(given_config(given)),
        stop=MappingProxyType({k: v for k, v in given.items() if isinstance(k, str) and k.startswith(hp.STOP_PREFIX)}),
        pass_bar=pass_bar,
        tree_hint=_tree_hint(given, choice, default_preset, seed),
    )


def _tree_hint(given: Mapping[str, Any], choice: PresetChoice, default_preset: str, seed: int | None) -> str:
    """:attr:`JobPlan.tree_hint`: a new tree is named after the preset the job names, or the shipped one it trains
    with; else, when it names another environment or algorithm than the default preset's, ``<env>-<algorithm>``
    (``acrobot-dqn``), so that runs are told apart; ``-s<seed>`` added when it gives a seed (``cartpole-ppo-s3``), so
    that seeds started together are told apart by name, not by the ``-2``, ``-3`` a second launch in the same second
    gets."""
    named = next((given[k] for k in (hp.PRESET, *hp.PRESET_ALIASES) if k in given), None)
    env, algorithm = given.get(hp.ENV, given.get(hp.CONFIG_PREFIX + "env")), given.get(hp.RUN)
    if named is not None or not (isinstance(env, str) and env or isinstance(algorithm, str) and algorithm):
        hint = str(named or default_preset)
    elif choice.name != default_preset:  # the shipped preset tuned for the environment, which the job trains with
        hint = choice.name
    elif choice.preset is None:  # resolve reports a preset it cannot load
        hint = default_preset
    else:
        env = env if isinstance(env, str) and env else choice.preset.env
        algorithm = algorithm if isinstance(algorithm, str) and algorithm else choice.preset.algorithm
        hint = f"{re.sub(r'-v[0-9]+$', '', env)}-{algorithm}"
    if seed is not None:
        return f"{tree_name(hint)}-s{seed}"  # a preset file's name without its suffix, then the seed
    return hint
