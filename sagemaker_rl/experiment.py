"""A SageMaker RL experiment dict (Ray Tune's ``{"training": {"env", "run", "stop", "config", ...}}``) as rlrt
hyperparameters: the grammar ``rl.training.*`` that ``runtime.job.setup.resolve_spec`` and the RLlib backend's
validator resolve for every job, so the experiment's RLlib 1.x keys are translated (or refused) by the same table as
``rl.training.config.*`` hyperparameters. Nothing here translates an RLlib key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError

BASE_PRESET = str(Path(__file__).resolve().parent / "experiment.yaml")
"""The empty preset the experiment is laid over (no configuration, no stop criteria of its own)."""

# Experiment keys rlrt's own job handles: accepted, and why they need nothing.
HANDLED_BY_RLRT = {
    "local_dir": "rlrt writes results to output/intermediate and checkpoints to /opt/ml/checkpoints",
    "checkpoint_at_end": "rlrt always saves a checkpoint (and the model) at the end",
    "name": "one experiment per job",
}
REFUSED = {
    "restore": "rlrt resumes by itself from the newest checkpoint in /opt/ml/checkpoints (SageMaker's "
    "checkpoint_s3_uri); drop 'restore' and give the checkpoint that way",
    "num_samples": "a job trains one trial; tune with SageMaker's HyperparameterTuner or `rlrt tune`",
    "resources_per_trial": "rlrt sizes the trial from the job's instance (num_workers / num_gpus in 'config')",
    "trial_resources": "rlrt sizes the trial from the job's instance (num_workers / num_gpus in 'config')",
    "callbacks": "rlrt reports metrics itself; RLlib callbacks are not configurable from a job",
}


def apply_rl_hyperparameters(experiment: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """SageMaker RL's ``customize_experiment_config``: every ``rl.<a>.<b>...`` hyperparameter sets
    ``experiment[a][b]...`` (e.g. ``rl.training.config.num_sgd_iter`` -> ``experiment["training"]["config"]
    ["num_sgd_iter"]``) over a copy of the experiment."""
    config = copy.deepcopy(dict(experiment))
    for name, value in sorted(hyperparameters.items()):
        if name.startswith("rl.") and len(name) > 3:
            hp.set_nested(config, name[3:], copy.deepcopy(value))
    return config


def _single_experiment(experiment: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(experiment, Mapping) or not experiment:
        raise UserError(
            f"get_experiment_config() must return a dict such as {{'training': {{'env': ..., 'run': "
            f"'PPO', 'stop': {{...}}, 'config': {{...}}}}}}, got {str(experiment)[:200]!r}."
        )
    if len(experiment) != 1:
        raise UserError(
            f"get_experiment_config() returned {len(experiment)} experiments "
            f"({', '.join(map(str, experiment))}); "
            "an rlrt job trains one (SageMaker RL's scripts name it 'training')."
        )
    name, training = next(iter(experiment.items()))
    if not isinstance(training, Mapping):
        raise UserError(
            f"The experiment '{name}' must be a dict with 'env', 'run', 'stop' and 'config', "
            f"got {str(training)[:200]!r}."
        )
    return str(name), dict(training)


def experiment_hyperparameters(experiment: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment as ``rl.training.*`` hyperparameters (``run``, ``env``, ``stop``, ``config``,
    ``checkpoint_freq``, ``keep_checkpoints_num``); a :class:`UserError` lists the keys rlrt refuses and why."""
    name, training = _single_experiment(experiment)
    config = training.get("config") or {}
    stop = training.get("stop") or {}
    problems = []
    if not isinstance(config, Mapping):
        problems.append(f"'{name}.config' must be a dict, got {str(config)[:80]!r}")
        config = {}
    if not isinstance(stop, Mapping):
        problems.append(f"'{name}.stop' must be a dict of stop criteria, got {str(stop)[:80]!r}")
        stop = {}
    config = dict(config)
    run = training.get("run")
    if not isinstance(run, str) or not run.strip():
        problems.append(f"'{name}.run' must name an RLlib algorithm such as 'PPO', got {str(run)[:80]!r}")
    # Ray Tune 1.x: the experiment's "env" and config["env"] are one setting.
    env = training.get("env")
    config_env = config.pop("env", None)
    if env is not None and config_env is not None and env != config_env:
        problems.append(
            f"'{name}.env' ({env!r}) and '{name}.config.env' ({config_env!r}) name different environments; give one"
        )
    env = env if env is not None else config_env
    if not isinstance(env, str) or not env.strip():
        problems.append(
            f"'{name}.env' (or '{name}.config.env') must name the environment: an id registered with "
            f"register_env() in register_env_creator(), or a gymnasium id; got {str(env)[:80]!r}"
        )
    for key in sorted(training):
        if key in REFUSED:
            problems.append(f"'{name}.{key}' is not supported: {REFUSED[key]}")
        elif key not in ("run", "env", "stop", "config", "checkpoint_freq", "keep_checkpoints_num", *HANDLED_BY_RLRT):
            problems.append(
                f"Unknown experiment key '{name}.{key}' (rlrt reads run, env, stop, config, "
                f"checkpoint_freq, keep_checkpoints_num)"
            )
    if problems:
        raise UserError(
            "The experiment from get_experiment_config() cannot run:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    hyperparameters: dict[str, Any] = {hp.RUN: run, hp.ENV: env}
    hyperparameters.update({hp.CONFIG_PREFIX + str(k): v for k, v in config.items()})
    hyperparameters.update({hp.STOP_PREFIX + str(k): v for k, v in stop.items()})
    if "checkpoint_freq" in training:
        hyperparameters[hp.CHECKPOINT_FREQ] = training["checkpoint_freq"]
    if training.get("keep_checkpoints_num") is not None:
        hyperparameters[hp.KEEP_CHECKPOINTS] = training["keep_checkpoints_num"]
    return hyperparameters


RL_PREFIX = "rl."


def owned_by_rlrt(key: str) -> bool:
    """Whether the job hyperparameter ``key`` is rlrt's to read (and check): SageMaker RL's ``rl.*`` grammar and
    rlrt's documented names (``preset``, ``record_video_every``, ``seed``, ...). Every other key is the script's own
    (a notebook's ``{"bag_capacity": 9}``): SageMaker RL's launcher applied only ``rl.*`` keys and handed the rest to
    the script (as ``SM_HPS`` and command-line arguments), and so does rlrt; ``sagemaker_*`` keys are the SDK's."""
    return key.startswith(RL_PREFIX) or key in hp.TOP_LEVEL_KEYS or key in (hp.PRESET, *hp.PRESET_ALIASES)


def scripts_own_keys(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The hyperparameters that belong to the script, not to rlrt (see :func:`owned_by_rlrt`)."""
    return sorted(
        k
        for k in hyperparameters
        if not owned_by_rlrt(k) and not k.startswith(hp.SAGEMAKER_PREFIX) and k != hp.TUNING_OBJECTIVE
    )
