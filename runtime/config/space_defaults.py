"""PPO settings chosen from an environment's spaces, for a job whose environment has no tuned preset.

``rlrt train --env Acrobot-v1`` (the default preset is CartPole's) and a user's preset file that leaves settings
out would otherwise train with RLlib's defaults (a 4000-step batch, 30 epochs of 128-sample minibatches, a 256x256
network, one environment per runner), which is slow per step and far from what RL Baselines3 Zoo users expect.
The table below is one rule keyed on the spaces (discrete or continuous actions, vector or image observations),
with values taken from RL Zoo's ``hyperparams/ppo.yml``: its Acrobot-v1 section for discrete actions, its
Pendulum-v1 and PyBullet sections (and SB3's defaults) for continuous ones, its Atari section for images. A value
the user gave (a ``--set``, a preset file's own setting) always wins; only the rest is taken from the table.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, NamedTuple

import gymnasium
import numpy as np
import yaml

from envs.adapters import say_once
from envs.registry import UnknownEnvironmentError, env_info, make_env
from runtime.config.presets import DEFAULT_PRESET, PRESETS_DIR, Preset
from runtime.config.stop import same_env
from runtime.config.zoo import is_zoo_file

log = logging.getLogger(__name__)


class Spaces(NamedTuple):
    """What the choice looks at."""

    discrete: bool
    """Discrete (or multi-discrete) actions; else continuous (Box)."""
    image: bool
    """Observations are images (a Box of rank 3)."""


ROLLOUT_STEPS = {"discrete": 256, "continuous": 256, "image": 128}
"""Steps each environment runs per iteration (SB3's ``n_steps``): the batch is this times the environments."""

COMMON: Mapping[str, Any] = {
    # SB3's PPO: no KL penalty, the value loss unclipped, the gradient norm clipped at 0.5.
    "gamma": 0.99, "lambda": 0.95, "lr": 3e-4, "clip_param": 0.2, "vf_loss_coeff": 0.5, "entropy_coeff": 0.0,
    "grad_clip": 0.5, "use_kl_loss": False, "vf_clip_param": 100000.0,
}
TABLE: Mapping[str, Mapping[str, Any]] = {
    # RL Zoo's Acrobot-v1: 16 envs x 256 steps, 4 epochs, lambda 0.94, observations normalised; SB3's 64x64 tanh.
    # RLlib's action normalisation is off: it leaves discrete actions as they are, but copies and unbatches each one
    # on its way to the env (~7 % of CartPole's env steps/s).
    "discrete": {"num_envs_per_env_runner": 16, "minibatch_size": 64, "num_epochs": 4, "lambda": 0.94,
                 "observation_filter": "MeanStdFilter", "normalize_actions": False,
                 "model_config": {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "vf_share_layers": False}},
    # SB3's PPO defaults (2048 samples, 10 epochs of 64) spread over 8 envs, observations normalised as the Zoo's
    # PyBullet sections do; the Gaussian's log-std starts at 0 (SB3's default; the Zoo's -2 is tuned per robot).
    "continuous": {"num_envs_per_env_runner": 8, "minibatch_size": 64, "num_epochs": 10,
                   "observation_filter": "MeanStdFilter",
                   "model_config": {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "vf_share_layers": False,
                                    "log_std_init": 0.0}},
    # RL Zoo's Atari section: 8 envs x 128 steps, 4 epochs of 256, lr 2.5e-4, clip 0.1, entropy 0.01; RLlib's own
    # convolutional encoder for the images (no observation filter on pixels).
    "image": {"num_envs_per_env_runner": 8, "minibatch_size": 256, "num_epochs": 4, "lr": 2.5e-4,
              "clip_param": 0.1, "entropy_coeff": 0.01},
}


def kind_of(spaces: Spaces) -> str:
    """The row of :data:`TABLE` for ``spaces``."""
    if spaces.image:
        return "image"
    return "discrete" if spaces.discrete else "continuous"


def ppo_defaults(spaces: Spaces) -> dict[str, Any]:
    """The PPO settings (RLlib names) the table gives for ``spaces``."""
    kind = kind_of(spaces)
    row = TABLE[kind]
    settings = {**COMMON, **row}
    settings["train_batch_size_per_learner"] = row["num_envs_per_env_runner"] * ROLLOUT_STEPS[kind]
    return settings


def spaces_of(observation_space: Any, action_space: Any) -> Spaces:
    """:class:`Spaces` of a gymnasium observation and action space."""
    discrete = isinstance(action_space, (gymnasium.spaces.Discrete, gymnasium.spaces.MultiDiscrete))
    shape = getattr(observation_space, "shape", None) or ()
    image = isinstance(observation_space, gymnasium.spaces.Box) and len(shape) == 3
    return Spaces(discrete=discrete, image=image)


def env_spaces(env_id: str, env_config: Mapping[str, Any]) -> Spaces | None:
    """The spaces of ``env_id`` made once and closed; None for an environment rlrt's families build (a game process,
    a simulator: their presets are tuned) or one that cannot be made here (the job names why later)."""
    try:
        if env_info(env_id).entry_point is not None:
            return None
        env = make_env(env_id, env_config)
    except (UnknownEnvironmentError, Exception):  # noqa: BLE001 - the job's own env check reports it
        return None
    try:
        return spaces_of(env.observation_space, env.action_space)
    finally:
        env.close()


def _zoo_file(preset: Preset) -> bool:
    try:
        return preset.path is not None and is_zoo_file(yaml.safe_load(preset.path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False


def applies(preset: Preset, named: bool, env: str, algorithm: str, default_preset: str) -> bool:
    """Whether a job gets space defaults: PPO, and either no preset named while the default one is the shipped
    default (CartPole's) on another environment, or a user's own rlrt preset file (not an RL Zoo file: its
    converter fills SB3's defaults)."""
    if algorithm.casefold() != "ppo":
        return False
    if not named:
        return default_preset == DEFAULT_PRESET and not same_env(env, preset.env)
    own = preset.path is not None and preset.path.parent.resolve() != PRESETS_DIR.resolve()
    return own and not _zoo_file(preset)


def _flat(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            pairs += _flat(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", value))
    return pairs


def fill(base: Mapping[str, Any], given: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` where neither ``base`` (a preset file's settings) nor ``given`` (the user's) set the key (one
    level into ``model_config``)."""
    chosen: dict[str, Any] = {}
    for key, value in defaults.items():
        if isinstance(value, Mapping):
            inner = {k: v for k, v in value.items()
                     if k not in (base.get(key) or {}) and k not in (given.get(key) or {})}
            if inner:
                chosen[key] = inner
        elif key not in base and key not in given:
            chosen[key] = value
    return chosen


def space_defaults(preset: Preset, named: bool, env: str, algorithm: str, env_config: Mapping[str, Any],
                   given: Mapping[str, Any], default_preset: str) -> Mapping[str, Any]:
    """The preset settings a job trains with (``given``: the user's, in the backend's names), printing one line
    that names what was chosen from the spaces. Without a named preset the default preset's own settings (tuned for
    its environment) give way to the table; a user's preset file keeps its settings and gets the table's for the
    rest. Anything else: the preset's settings unchanged."""
    if not applies(preset, named, env, algorithm, default_preset):
        return preset.config
    spaces = env_spaces(env, env_config)
    if spaces is None:
        return preset.config
    base: Mapping[str, Any] = preset.config if named else {}
    chosen = fill(base, given, ppo_defaults(spaces))
    settings = dict(base)
    for key, value in chosen.items():
        settings[key] = {**(settings.get(key) or {}), **value} if isinstance(value, Mapping) else value
    if chosen:
        listed = ", ".join(f"{k}={_short(v)}" for k, v in _flat(chosen))
        note = (f"rlrt: PPO settings from {env}'s spaces ({kind_of(spaces)} actions/observations; RL Zoo's values "
                f"where neither you nor the preset set one): {listed}")
        say_once(note, note)
    return settings


def _short(value: Any) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value if not isinstance(value, np.generic) else value.item())
