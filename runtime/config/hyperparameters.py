"""Hyperparameter resolution: SageMaker's flat name -> value mapping into one checked training specification.

The grammar is SageMaker RL's:

- ``preset`` (aliases ``RLRAY_PRESET``, ``RLCOACH_PRESET``): which preset to start from;
- ``rl.training.config.<key>``: an algorithm configuration key (RLlib's names; the old names the seeds use are
  translated by the algorithm's backend), nested with dots (``rl.training.config.model.fcnet_hiddens``);
- ``rl.training.config.env_config.<key>``: passed to the environment;
- ``rl.training.stop.<key>``: stop criteria;
- ``rl.training.run`` / ``rl.training.env``: replace the preset's algorithm / environment;
- ``rl.training.backend``: the library that trains the algorithm (``rllib``, ``d3rlpy``); by default the first
  installed backend that trains it (d3rlpy for the offline algorithms, RLlib for the rest);
- ``rl.training.checkpoint_freq`` / ``rl.training.keep_checkpoints_num``: checkpointing.

Values arrive JSON-decoded (SageMaker writes every value as a JSON string); a string that parses as the number a key
expects (``"64"``, as the SDK delivers ``{"batch_size": "64"}``) is that number, as SageMaker's own algorithms accept
it. RLlib 1.x's ``rl.training.config.env`` names the environment (as ``rl.training.env``) and
``rl.training.config.monitor`` turns rollout videos on or off (``record_video_every``). Keys SageMaker adds
(``sagemaker_*``, the tuner's ``_tuning_objective_metric``) are ignored; any other unknown key, a value of the wrong
type or out of range is a :class:`UserError` that names the key and the closest valid one. All problems are reported
at once.
"""

from __future__ import annotations

import difflib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from sagemaker_training import params

from envs.adapters import say_once
from runtime.config.limits import ENV_CONFIG_KEYS, env_config_problems, limit_problems
from runtime.config.presets import DEFAULT_PRESET, Preset, Shipped, load_preset, preset_for_job
from runtime.config.runners import runner_defaults
from runtime.config.space_defaults import JobChoice, job_settings
from runtime.config.spec import TrainingSpec
from runtime.config.stop import (  # noqa: F401 - re-exported: the stop criteria are hyperparameters
    STOP_EPISODE_REWARD_MEAN,
    STOP_KEYS,
    STOP_PREFIX,
    STOP_TIME_TOTAL_S,
    STOP_TIMESTEPS_TOTAL,
    STOP_TRAINING_ITERATION,
    all_stop_keys,
    check_stop,
    same_env,
    stop_for_env,
)
from runtime.config.values import ValueCheck, check_value, coerce_value, decode_value, parse_number  # noqa: F401 - re-exported
from runtime.config.workflow import (  # noqa: F401 - re-exported: one hyperparameter set serves a whole workflow
    ALGORITHM,
    EVAL_ENV,
    EVALUATE_EPISODES,
    EVALUATE_MAX_EPISODE_STEPS,
    EVALUATE_STEPS,
    PRETRAINED_MODEL,
    RECORD_VIDEO_EVERY,
    RL_CLUSTER_TYPE,
    RL_NUM_INSTANCES_SECONDARY,
    RL_PRIMARY_ADDRESS,
    SAVE_MODEL,
    TRACK,
    WORKFLOW_KEYS,
)
from runtime.errors import UserError, container_job

# Parameter names (constants, as sagemaker-training's params module does).
PRESET = "preset"
PRESET_ALIASES = ("RLRAY_PRESET", "RLCOACH_PRESET")
CONFIG_PREFIX = "rl.training.config."
ENV_CONFIG_PREFIX = "rl.training.config.env_config."
RUN = "rl.training.run"
ENV = "rl.training.env"
BACKEND = "rl.training.backend"
CHECKPOINT_FREQ = "rl.training.checkpoint_freq"
KEEP_CHECKPOINTS = "rl.training.keep_checkpoints_num"
SEED = "seed"
SAGEMAKER_PREFIX = params.SAGEMAKER_PREFIX
TUNING_OBJECTIVE = params.TUNING_METRIC_PARAM
"""Added by SageMaker's hyperparameter tuner to every training job it starts; ignored like ``sagemaker_*``."""

TOP_LEVEL_KEYS: Mapping[str, ValueCheck] = MappingProxyType(
    {
        PRESET: ValueCheck((str,), lambda v: bool(v.strip()), "a preset name"),
        RUN: ValueCheck((str,), lambda v: bool(v.strip()), "an algorithm name such as PPO"),
        ENV: ValueCheck((str,), lambda v: bool(v.strip()), "an environment id"),
        BACKEND: ValueCheck((str,), lambda v: bool(v.strip()), "a backend name such as rllib or d3rlpy"),
        CHECKPOINT_FREQ: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        KEEP_CHECKPOINTS: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        SEED: ValueCheck((int,), lambda v: v >= 0, "an integer >= 0"),
        **WORKFLOW_KEYS,
    }
)


def _closest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def set_nested(target: dict[str, Any], dotted: str, value: Any) -> None:
    """``set_nested(d, "model.fcnet_hiddens", v)`` sets ``d["model"]["fcnet_hiddens"] = v``."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; nested mappings merge, other values replace."""
    merged: dict[str, Any] = {k: (deep_merge(v, {}) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = deep_merge(value, {}) if isinstance(value, Mapping) else value
    return merged


class ConfigValidator(ABC):
    """What an algorithm backend provides to check ``rl.training.config.*`` keys (one of the plug-in contracts,
    re-exported by :mod:`runtime.contracts`; defined here, where :func:`resolve` uses it). A validator subclasses it
    and inherits the optional methods' defaults."""

    @abstractmethod
    def translate(self, algorithm: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """Map old names onto current ones: return (config in current names, env_config additions, problems)."""

    @abstractmethod
    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        """Return the problems with ``config`` (already in current names): unknown keys, wrong types."""

    @abstractmethod
    def sizes_env_runners(self, algorithm: str) -> bool:
        """Whether ``num_env_runners`` should default to the machine's CPUs minus one (none on two CPUs or fewer)."""

    def stop_keys(self, algorithm: str) -> Mapping[str, ValueCheck]:
        """Stop criteria beyond :data:`STOP_KEYS` (the offline backend adds ``epochs`` and ``gradient_steps``)."""
        return {}

    def algorithm_name(self, algorithm: str) -> str:
        """The library's own name of ``algorithm`` (``ppo`` -> ``PPO``), which the spec carries so that every later
        comparison is exact. Default: as given."""
        return algorithm.strip()

    def environment_settings(self, algorithm: str) -> frozenset[str]:
        """Keys about the environment or data, which a job of another algorithm than its preset's keeps (none)."""
        return frozenset()


@dataclass(frozen=True)
class PresetChoice:
    """The preset a job trains from, chosen and loaded once (:func:`choose_preset`)."""

    name: str
    """The preset the job names, else the shipped one tuned for its env and algorithm (``preset_for_job``), else the
    default one."""
    named: bool
    """Whether the job names it (``preset``, ``RLRAY_PRESET``, ``RLCOACH_PRESET``)."""
    preset: Preset | None
    """The preset, parsed; None when :attr:`error` says why it could not be."""
    error: Exception | None = None
    """Why not (conflicting names, an unknown one, a file that does not parse): raised by :func:`resolve`."""


def choose_preset(given: Mapping[str, Any], default_preset: str = DEFAULT_PRESET) -> PresetChoice:
    """Choose and load the preset of the hyperparameters ``given`` (without ``sagemaker_*``), once: never raises (an
    Exception is kept in :attr:`PresetChoice.error`), so that a job can choose it before anything is checked."""
    keys = [k for k in (PRESET, *PRESET_ALIASES) if k in given]
    name, shipped = default_preset, Shipped()  # the presets folder read once, for the choice and the preset
    try:
        if len(keys) > 1 and len({str(given[k]) for k in keys}) > 1:
            raise UserError("Conflicting presets: " + ", ".join(f"{k}={given[k]!r}" for k in keys) + ". Give only one.")
        if keys:
            value = given[keys[0]]
            if not isinstance(value, str) or not value.strip():
                raise UserError(f"'{keys[0]}' must be a preset name, got {json.dumps(value, default=str)}.")
            name = value
        else:  # RLlib's own key names the environment too
            env = given.get(ENV, given.get(CONFIG_PREFIX + "env"))
            name = preset_for_job(default_preset, env, given.get(RUN), shipped=shipped)
        job_env = given.get(ENV)  # it picks an RL Zoo file's section
        preset = load_preset(name, env=job_env if isinstance(job_env, str) else None, shipped=shipped)
        return PresetChoice(name, bool(keys), preset)
    except Exception as exc:  # noqa: BLE001 - kept for resolve, which reports it in its turn
        return PresetChoice(name, bool(keys), None, exc)


Rewrite = Callable[[Preset, Mapping[str, Any]], "tuple[dict[str, Any], dict[str, Any], list[str]]"]
"""A hyperparameter dialect: ``(preset, given) -> (given in this module's grammar, accepted extras, problems)``."""


def resolve(
    hyperparameters: Mapping[str, Any],
    validator: Callable[[str, str | None], ConfigValidator],
    default_preset: str = DEFAULT_PRESET,
    num_cpus: int | None = None,
    rewrite: Rewrite | None = None,
    chosen: PresetChoice | None = None,
) -> TrainingSpec:
    """Resolve SageMaker hyperparameters on top of a preset into a checked :class:`TrainingSpec`.

    ``validator(algorithm, backend)`` is the check of the algorithm configuration of the backend that trains it
    (``backend``: the one ``rl.training.backend`` names, else None). ``num_cpus`` sizes the env runners when neither
    the preset nor the hyperparameters do. ``rewrite`` translates another product's hyperparameter names (e.g.
    DeepRacer's ``batch_size``, ``discount_factor``) into this grammar once the preset is known; the extras it
    accepts land in ``TrainingSpec.extras`` and its problems are reported with the others. ``chosen``: their
    :func:`choose_preset` (a job's plan holds it), else made here."""
    given = {k: v for k, v in hyperparameters.items() if not k.startswith(SAGEMAKER_PREFIX) and k != TUNING_OBJECTIVE}
    problems: list[str] = limit_problems(given)
    if problems:  # text no file can hold, numbers no library takes: nothing below is meant to see them
        raise UserError(format_problems(problems))
    original = dict(given)

    if chosen is None:
        chosen = choose_preset(given, default_preset)
    if chosen.error is not None:  # raised here, after the limits, whenever the preset was chosen
        raise chosen.error
    assert chosen.preset is not None  # loaded whenever there is no error
    if not chosen.named and chosen.name != default_preset:
        named_env = given.get(ENV, given.get(CONFIG_PREFIX + "env"))  # RLlib's own key names it too
        line = (
            f"rlrt: no preset named: {named_env} trains with its shipped preset {chosen.name} (tuned for it; "
            "`rlrt presets` lists them, --preset picks another)"
        )
        say_once(line, line)
    preset: Preset = chosen.preset
    dialect_extras: dict[str, Any] = {}
    if rewrite is not None:
        given, dialect_extras, rewrite_problems = rewrite(preset, given)
        problems += rewrite_problems

    config_overrides: dict[str, Any] = {}
    env_config: dict[str, Any] = {}
    raw_stop: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key, value in sorted(given.items()):
        if key in (PRESET, *PRESET_ALIASES):
            continue
        if key.startswith(ENV_CONFIG_PREFIX):
            rest = key[len(ENV_CONFIG_PREFIX) :]
            if not rest:
                problems.append(f"'{key}' names no environment setting")
                continue
            set_nested(env_config, rest, value)
        elif key == CONFIG_PREFIX + "env_config":
            if not isinstance(value, dict):
                problems.append(f"'{key}' must be a JSON object, got {json.dumps(value, default=str)}")
                continue
            env_config = deep_merge(env_config, value)
        elif key.startswith(CONFIG_PREFIX):
            rest = key[len(CONFIG_PREFIX) :]
            if not rest:
                problems.append(f"'{key}' names no configuration key")
                continue
            set_nested(config_overrides, rest, value)
        elif key.startswith(STOP_PREFIX):
            # Checked once the backend is known: a backend may understand more stop keys (offline: epochs).
            raw_stop[key] = value
        elif key in TOP_LEVEL_KEYS:
            problem = TOP_LEVEL_KEYS[key].problem(key, value)
            if problem:
                problems.append(problem)
            else:
                top[key] = TOP_LEVEL_KEYS[key].coerce(value)
        elif not key.strip():
            problems.append(
                f"A hyperparameter has an empty name ({json.dumps(key)}) and the value "
                f"{json.dumps(value, default=str)[:80]}; remove it or name it."
            )
        else:
            valid = [*TOP_LEVEL_KEYS, PRESET, *PRESET_ALIASES, *(STOP_PREFIX + k for k in STOP_KEYS)]
            # Suggest a prefixed spelling for a bare algorithm key such as "lr".
            hint = _closest(key, valid)
            if not hint and "." not in key:
                hint = f" Algorithm settings take the prefix '{CONFIG_PREFIX}', e.g. '{CONFIG_PREFIX}{key}'."
            problems.append(f"Unknown hyperparameter '{key}'.{hint}")

    problems += _rllib_1x_job_keys(config_overrides, top)
    algorithm = str(top.get(RUN, preset.algorithm))
    env = str(top.get(ENV, preset.env))
    if EVAL_ENV in top and ENV not in top and str(top[EVAL_ENV]).strip() != env:
        problems.append(
            f"'{EVAL_ENV}' ({top[EVAL_ENV]}) names the environment `rlrt evaluate` plays; this job trains "
            f"{env}. To train {top[EVAL_ENV]}, set '{ENV}'"
            + ("." if container_job() else " (or `rlrt train --env ID`).")
        )
    backend = validator(algorithm, top.get(BACKEND))
    # The library's own names, decided here once: every later stage compares them exactly.
    algorithm, preset_algorithm = backend.algorithm_name(algorithm), backend.algorithm_name(preset.algorithm)
    stop_keys = all_stop_keys(backend.stop_keys(algorithm))
    stop, stop_problems = check_stop(raw_stop, stop_keys)
    problems += stop_problems
    translated, env_additions, translate_problems = backend.translate(algorithm, config_overrides)
    choice = JobChoice(preset, chosen.named, env, algorithm, preset_algorithm, default_preset)
    settings = job_settings(choice, env_config, translated, backend.environment_settings(algorithm))
    translated_preset, preset_env, preset_problems = backend.translate(algorithm, settings.config)
    problems += [f"{preset.where}: {p}" for p in preset_problems] + translate_problems
    config = deep_merge(translated_preset, translated)
    if "env_config" in config:
        env_config = deep_merge(config.pop("env_config") or {}, env_config)
    env_config = deep_merge(deep_merge(preset_env, env_additions), env_config)
    problems += env_config_problems(
        {
            f"{CONFIG_PREFIX}env_config.{k}": env_config[k]
            for k in ENV_CONFIG_KEYS
            if k in env_config and f"{CONFIG_PREFIX}env_config.{k}" not in given
        }
    )
    # A user's preset file's own mistakes are named with the file (a shipped preset has none: tests check them).
    from_preset = set(backend.check(algorithm, translated_preset)) if preset.where != f"preset {preset.name}" else ()
    problems += [f"{preset.where}: {p}" if p in from_preset else p for p in backend.check(algorithm, config)]
    if backend.sizes_env_runners(algorithm):
        config.update(runner_defaults(config, env, env_config, num_cpus))

    for key, value in preset.stop.items():
        problem = (
            stop_keys[key].problem(f"stop.{key}", value)
            if key in stop_keys
            else (f"unknown stop criterion '{key}'.{_closest(key, stop_keys)}")
        )
        if problem:
            problems.append(f"{preset.where}: {problem}")
    # As in SageMaker RL, the user's stop criteria update the preset's; training stops at the first one met. A job that
    # names no preset but another environment gets that environment's reward stop, not the preset's.
    preset_stop = preset.stop if chosen.named or same_env(env, preset.env) else stop_for_env(preset.stop, env)
    merged_stop = {**preset_stop, **stop}
    if problems:
        raise UserError(format_problems(problems))
    return TrainingSpec(
        preset=settings.source,
        env=env,
        algorithm=algorithm,
        config=MappingProxyType(config),
        env_config=MappingProxyType(env_config),
        stop=MappingProxyType(merged_stop),
        checkpoint_frequency=int(top.get(CHECKPOINT_FREQ, preset.checkpoint_frequency)),
        checkpoint_keep=int(top.get(KEEP_CHECKPOINTS, preset.checkpoint_keep)),
        seed=top.get(SEED),
        extras=MappingProxyType(
            {
                **{
                    k: v
                    for k, v in top.items()
                    if k not in (RUN, ENV, BACKEND, CHECKPOINT_FREQ, KEEP_CHECKPOINTS, SEED)
                },
                **dialect_extras,
                **{key: value for key, value in preset.extra.items() if key == "serving"},
            }
        ),
        hyperparameters=MappingProxyType(original),
        pass_bar=(
            (preset.pass_bar.metric, preset.pass_bar.value)
            if preset.pass_bar is not None and env == preset.env and algorithm == preset_algorithm
            else None
        ),
        backend=top.get(BACKEND),
    )


def _rllib_1x_job_keys(config: dict[str, Any], top: dict[str, Any]) -> list[str]:
    """Take RLlib 1.x's job-level keys out of ``config`` into ``top``: ``env`` (the environment, as
    ``rl.training.env``; SageMaker RL's launchers put it inside ``config``) and ``monitor`` (rollout videos:
    ``false`` is ``record_video_every=0``; ``true`` keeps the default). Returns the problems."""
    problems = []
    if "env" in config:
        value = config.pop("env")
        if not isinstance(value, str) or not value.strip():
            problems.append(f"'{CONFIG_PREFIX}env' must be an environment id, got {json.dumps(value, default=str)}")
        elif top.get(ENV, value) != value:
            problems.append(
                f"'{CONFIG_PREFIX}env' ({value}) and '{ENV}' ({top[ENV]}) name different environments; give only one"
            )
        else:
            top[ENV] = value
    if "monitor" in config:
        value = config.pop("monitor")
        if not isinstance(value, bool):
            problems.append(
                f"'{CONFIG_PREFIX}monitor' (rollout videos) must be true or false, got "
                f"{json.dumps(value, default=str)}; '{RECORD_VIDEO_EVERY}' sets how often"
            )
        elif not value:
            top.setdefault(RECORD_VIDEO_EVERY, 0)
    return problems


def format_problems(problems: list[str]) -> str:
    if len(problems) == 1:
        return f"Invalid hyperparameter: {problems[0]}"
    return f"{len(problems)} invalid hyperparameters:\n" + "\n".join(f"  - {p}" for p in problems)
