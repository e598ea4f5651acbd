"""RL Baselines3 Zoo hyperparameter files (``hyperparams/ppo.yml``: one section per environment id, Stable-Baselines3
names) read as rlrt presets.

The algorithm is the file's name (``ppo.yml``, ``dqn.yml``, ``sac.yml``, as in the Zoo); the section is the job's
environment (``rl.training.env``), or the file's only one. Each Zoo setting becomes its RLlib 2.x counterpart, a
setting the file leaves out takes SB3's default (the Zoo's files assume them, not RLlib's), and what has no
counterpart is named in one line each (:attr:`ZooPreset.notes`). A setting that changes the environment itself
(``env_wrapper``, ``frame_stack``) is refused: the job would train on another problem than the file's.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from runtime.config.zoo_network import model_config, python_value
from runtime.errors import UserError

ALGORITHMS = {"ppo": "PPO", "dqn": "DQN", "sac": "SAC"}
"""The Zoo file names (algorithms) rlrt trains, and the RLlib algorithm of each."""

ZOO_KEYS = frozenset({"n_timesteps", "policy", "n_envs", "policy_kwargs", "normalize", "env_wrapper"})
"""Keys that mark a section as a Zoo one (every Zoo section has ``n_timesteps`` or ``policy``)."""

SB3_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "PPO": {
        "learning_rate": 3e-4,
        "n_steps": 2048,
        "batch_size": 64,
        "n_epochs": 10,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.0,
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
    },
    "DQN": {
        "learning_rate": 1e-4,
        "buffer_size": 1_000_000,
        "learning_starts": 100,
        "batch_size": 32,
        "tau": 1.0,
        "gamma": 0.99,
        "train_freq": 4,
        "gradient_steps": 1,
        "target_update_interval": 10_000,
        "exploration_fraction": 0.1,
        "exploration_initial_eps": 1.0,
        "exploration_final_eps": 0.05,
        "max_grad_norm": 10.0,
    },
    "SAC": {
        "learning_rate": 3e-4,
        "buffer_size": 1_000_000,
        "learning_starts": 100,
        "batch_size": 256,
        "tau": 0.005,
        "gamma": 0.99,
        "train_freq": 1,
        "gradient_steps": 1,
        "ent_coef": "auto",
    },
}
"""Stable-Baselines3 2.x's defaults for what a Zoo section leaves out."""

NOT_TRANSLATED = {
    "use_sde": "RLlib has no state-dependent exploration; its Gaussian policy explores",
    "sde_sample_freq": "RLlib has no state-dependent exploration",
    "target_kl": "RLlib's PPO does not stop an update early on the KL divergence",
    "clip_range_vf": "RLlib clips the value loss (vf_clip_param), not the value change",
    "normalize_advantage": "RLlib's PPO always normalises advantages",
    "callback": "SB3 callbacks do not run in RLlib",
    "optimize_memory_usage": "an SB3 replay-buffer option",
    "replay_buffer_kwargs": "an SB3 replay-buffer option",
    "replay_buffer_class": "an SB3 replay-buffer option",
    "stats_window_size": "rlrt smooths episode numbers over 100 episodes",
    "use_sde_at_warmup": "RLlib has no state-dependent exploration",
}
"""Zoo settings with no RLlib counterpart, each with why (named in a line, never dropped silently)."""

REFUSED = ("env_wrapper", "frame_stack", "vec_env_wrapper")
"""Zoo settings that change the environment: training without them would be another problem."""


@dataclass(frozen=True)
class ZooPreset:
    """A Zoo section as rlrt preset data (the keys of a preset YAML file) and the lines naming what was not kept."""

    data: dict[str, Any]
    notes: tuple[str, ...]


def is_zoo_file(data: Any) -> bool:
    """Whether parsed YAML is a Zoo hyperparameter file: environment sections of SB3 settings, no preset keys."""
    if not isinstance(data, dict) or not data or {"env", "algorithm", "stop"} & set(data):
        return False
    sections = list(data.values())
    return all(isinstance(s, dict) for s in sections) and any(ZOO_KEYS & set(s) for s in sections)


def zoo_preset(data: Mapping[str, Any], path: Path, env: str | None) -> ZooPreset:
    """The preset for ``env``'s section of the Zoo file ``path`` (parsed: ``data``); the file's only section when
    ``env`` is None. A :class:`UserError` names what cannot be read or trained."""
    algorithm = ALGORITHMS.get(path.stem.lower())
    if algorithm is None:
        raise UserError(
            f"{path} is an RL Zoo hyperparameter file; the Zoo names each after its algorithm and rlrt "
            f"trains {', '.join(f'{stem}.yml' for stem in ALGORITHMS)} ({', '.join(ALGORITHMS.values())}"
            f" with RLlib). Rename it after its algorithm, or write an rlrt preset."
        )
    section_id = _section(data, path, env)
    section = dict(data[section_id])
    refused = [key for key in REFUSED if section.get(key)]
    if refused:
        raise UserError(
            f"{path}, {section_id}: {', '.join(refused)} change(s) the environment, which rlrt does not "
            "do from a Zoo file: register an environment that applies them (a gymnasium id or a "
            "'module:Class' that builds the wrapped env) and name it with rl.training.env."
        )
    config, stop, notes = zoo_settings(algorithm, section, f"{path}, {section_id}")
    return ZooPreset(
        {
            "name": f"{path.stem}-{section_id}",
            "env": section_id,
            "algorithm": algorithm,
            "description": f"RL Zoo {path.name}, {section_id}",
            "config": config,
            "stop": stop,
        },
        tuple(f"rlrt: RL Zoo {path.name}, {section_id}: {note}" for note in notes),
    )


def zoo_settings(
    algorithm: str, section: Mapping[str, Any], where: str
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A Zoo section of ``algorithm`` (``PPO``, ``DQN``, ``SAC``; SB3's names, its defaults where the section is
    silent) as (RLlib settings, stop criteria, what was not translated); ``where`` names it in a message."""
    notes: list[str] = []
    settings = {**SB3_DEFAULTS[algorithm], **section}
    config, stop = _common(settings, algorithm, where, notes)
    {"PPO": _ppo, "DQN": _dqn, "SAC": _sac}[algorithm](settings, config, notes)
    for key in sorted(set(section) & set(NOT_TRANSLATED)):
        notes.append(f"{key}={section[key]!r} not translated: {NOT_TRANSLATED[key]}")
    unknown = sorted(set(section) - _READ - set(NOT_TRANSLATED) - set(REFUSED))
    notes += [f"{key}={section[key]!r} not translated: not an SB3 {algorithm} setting rlrt knows" for key in unknown]
    return config, stop, notes


_READ = frozenset(
    {
        "n_timesteps",
        "policy",
        "n_envs",
        "policy_kwargs",
        "normalize",
        "env_kwargs",
        "learning_rate",
        "gamma",
        "batch_size",
        "max_grad_norm",
        "n_steps",
        "n_epochs",
        "gae_lambda",
        "clip_range",
        "ent_coef",
        "vf_coef",
        "buffer_size",
        "learning_starts",
        "tau",
        "train_freq",
        "gradient_steps",
        "target_update_interval",
        "exploration_fraction",
        "exploration_initial_eps",
        "exploration_final_eps",
        "target_entropy",
    }
)
"""The Zoo settings translated."""


def _section(data: Mapping[str, Any], path: Path, env: str | None) -> str:
    ids = [str(key) for key in data]
    if env is None:
        if len(ids) == 1:
            return ids[0]
        raise UserError(
            f"{path} is an RL Zoo hyperparameter file with {len(ids)} environments: name the one to "
            f"train with rl.training.env (or --env), e.g. {ids[0]}. It has: {', '.join(ids)}."
        )
    if env in data:
        return env
    close = difflib.get_close_matches(env, ids, n=1, cutoff=0.75)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UserError(f"{path} (an RL Zoo hyperparameter file) has no section for {env}.{hint} It has: {', '.join(ids)}.")


def _number(settings: Mapping[str, Any], key: str, where: str, integer: bool = False, positive: bool = True) -> Any:
    value = settings[key]
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if ok and integer:
        ok = float(value).is_integer()
    if not ok:
        kind = "a positive integer" if integer else ("a positive number" if positive else "a number >= 0")
        raise UserError(f"{where}: {key} must be {kind}, got {value!r}.")
    return int(value) if integer else float(value)


def _schedule(settings: Mapping[str, Any], key: str, where: str) -> tuple[float, bool]:
    """A Zoo value that may be a linear schedule (``lin_0.001``): its initial value and whether it decays."""
    value = settings[key]
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            start = float(value[len("lin_") :])
        except ValueError:
            raise UserError(f"{where}: {key}={value!r} is not a schedule rlrt reads (lin_<number>).") from None
        if not math.isfinite(start) or start < 0:
            raise UserError(f"{where}: {key}={value!r} must start at a finite number >= 0.")
        return start, True
    return _number({key: value}, key, where, positive=False), False


def _common(
    settings: dict[str, Any], algorithm: str, where: str, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What every algorithm shares: the budget, vectorisation, network, normalisation, gamma, lr and clipping."""
    if "n_timesteps" not in settings:
        raise UserError(f"{where}: the section has no n_timesteps (the Zoo's training budget).")
    budget = _number(settings, "n_timesteps", where, integer=True)
    config: dict[str, Any] = {
        "gamma": _number(settings, "gamma", where),
        "num_envs_per_env_runner": _number({"n_envs": settings.get("n_envs", 1)}, "n_envs", where, integer=True),
    }
    lr, decays = _schedule(settings, "learning_rate", where)
    if algorithm == "SAC":
        config.update(actor_lr=lr, critic_lr=lr, alpha_lr=lr)
        if decays:
            notes.append(f"learning_rate={settings['learning_rate']!r}: SAC's learning rates kept at {lr:g}")
    else:
        config["lr"] = [[0, lr], [budget, 0.0]] if decays else lr
    if "max_grad_norm" in settings:
        config["grad_clip"] = _number(settings, "max_grad_norm", where)
    policy = str(settings.get("policy", "MlpPolicy"))
    if policy not in ("MlpPolicy", "MultiInputPolicy"):
        notes.append(f"policy={policy!r}: RLlib's default encoder for the observations is used")
    config["model_config"] = model_config(settings.get("policy_kwargs"), algorithm, where, notes)
    normalize = settings.get("normalize", False)
    if isinstance(normalize, str):
        normalize = python_value(normalize, where, "normalize")
    observations = normalize.get("norm_obs", True) if isinstance(normalize, dict) else bool(normalize)
    rewards = normalize.get("norm_reward", True) if isinstance(normalize, dict) else bool(normalize)
    # SB3's VecNormalize: observations by their running mean and spread (RLlib's connector), rewards by the running
    # spread of the discounted return at the entry's gamma (rlrt's normalize_rewards, gymnasium's NormalizeReward).
    if observations:
        config["observation_filter"] = "MeanStdFilter"
    if rewards:
        config["normalize_rewards"] = True
    if settings.get("env_kwargs"):
        if not isinstance(settings["env_kwargs"], dict):
            raise UserError(f"{where}: env_kwargs must be a mapping, got {settings['env_kwargs']!r}.")
        config["env_config"] = dict(settings["env_kwargs"])
    return config, {"timesteps_total": budget}


def _ppo(settings: Mapping[str, Any], config: dict[str, Any], notes: list[str]) -> None:
    where = "PPO"
    clip, decays = _schedule(settings, "clip_range", where)
    if decays:
        notes.append(f"clip_range={settings['clip_range']!r}: RLlib's PPO keeps clip_param at {clip:g}")
    n_steps = _number(settings, "n_steps", where, integer=True)
    config.update(
        {
            "lambda": _number(settings, "gae_lambda", where, positive=False),
            "clip_param": clip,
            "entropy_coeff": _number(settings, "ent_coef", where, positive=False),
            "vf_loss_coeff": _number(settings, "vf_coef", where, positive=False),
            "num_epochs": _number(settings, "n_epochs", where, integer=True),
            "minibatch_size": _number(settings, "batch_size", where, integer=True),
            # SB3 collects n_steps from each of its n_envs environments per update.
            "train_batch_size_per_learner": n_steps * config["num_envs_per_env_runner"],
            # As SB3: no KL penalty and no clipping of the value loss.
            "use_kl_loss": False,
            "vf_clip_param": 100000.0,
        }
    )


def _off_policy(settings: Mapping[str, Any], config: dict[str, Any], where: str) -> None:
    """Replay, warm-up, target updates and the replay ratio, shared by DQN and SAC."""
    frequency = settings["train_freq"]
    if isinstance(frequency, (list, tuple)) and len(frequency) == 2 and frequency[1] == "step":
        frequency = frequency[0]
    if isinstance(frequency, (list, tuple)):
        raise UserError(
            f"{where}: train_freq={frequency!r}: rlrt reads a number of steps (train_freq: 4 or "
            "[4, 'step']); RLlib trains on a replay ratio, not per episode."
        )
    steps = _number({"train_freq": frequency}, "train_freq", where, integer=True)
    batch = _number(settings, "batch_size", where, integer=True)
    # SB3 takes gradient_steps batches every train_freq steps of its n_envs environments (-1: one batch per
    # transition collected): RLlib's replay ratio (trained / sampled transitions) says the same.
    collected = steps * config["num_envs_per_env_runner"]
    gradient_steps = (
        collected if settings["gradient_steps"] == -1 else _number(settings, "gradient_steps", where, integer=True)
    )
    config.update(
        {
            "train_batch_size_per_learner": batch,
            "training_intensity": batch * gradient_steps / collected,
            "replay_buffer_config": {
                "type": "EpisodeReplayBuffer",
                "capacity": _number(settings, "buffer_size", where, integer=True),
            },
            "num_steps_sampled_before_learning_starts": _number(
                settings, "learning_starts", where, integer=True, positive=False
            ),
            "tau": _number(settings, "tau", where),
            "n_step": 1,
        }
    )


def _dqn(settings: Mapping[str, Any], config: dict[str, Any], notes: list[str]) -> None:
    where = "DQN"
    _off_policy(settings, config, where)
    # SB3 decays epsilon over this share of the whole budget.
    decay_steps = int(_number(settings, "exploration_fraction", where, positive=False) * int(settings["n_timesteps"]))
    config.update(
        {
            "double_q": False,  # SB3's DQN is the original one
            "dueling": False,
            "target_network_update_freq": _number(settings, "target_update_interval", where, integer=True),
            "epsilon": [
                [0, _number(settings, "exploration_initial_eps", where, positive=False)],
                [max(1, decay_steps), _number(settings, "exploration_final_eps", where, positive=False)],
            ],
        }
    )


def _sac(settings: Mapping[str, Any], config: dict[str, Any], notes: list[str]) -> None:
    where = "SAC"
    _off_policy(settings, config, where)
    coefficient = settings["ent_coef"]
    if isinstance(coefficient, str) and coefficient.startswith("auto"):
        if coefficient != "auto":  # auto_0.1: tuned, starting at 0.1
            try:
                initial = float(coefficient.removeprefix("auto_"))
            except ValueError:
                raise UserError(
                    f"{where}: ent_coef={coefficient!r} is not 'auto', 'auto_<number>' or a number."
                ) from None
            config["initial_alpha"] = _number({"ent_coef": initial}, "ent_coef", where)
    else:
        config["initial_alpha"] = _number(settings, "ent_coef", where)
        notes.append(f"ent_coef={coefficient!r}: RLlib's SAC tunes the entropy coefficient, starting at it")
    target = settings.get("target_entropy", "auto")
    if target != "auto":
        config["target_entropy"] = _number({"target_entropy": target}, "target_entropy", where, positive=False)
