"""Algorithm settings chosen from an environment's spaces, for a job whose preset does not give them.

``rlrt train --env Acrobot-v1`` (the default preset is CartPole's PPO), ``rlrt train --algo dqn`` (another algorithm
than the preset's) and a user's preset file that leaves settings out would otherwise train with the library's
defaults (RLlib's PPO: a 4000-step batch, 30 epochs of 128-sample minibatches, a 256x256 network, one environment
per runner), or with settings tuned for another algorithm, far from what RL Baselines3 Zoo users expect. The tables
are one rule per algorithm keyed on the spaces (discrete or continuous actions, vector or image observations): PPO's
below, with values taken from RL Zoo's ``hyperparams/ppo.yml`` (its Acrobot-v1 section for discrete actions, its
Pendulum-v1 and PyBullet sections and SB3's defaults for continuous ones, its Atari section for images), APPO's
derived from it, and DQN's, SAC's and IMPALA's in :mod:`runtime.config.zoo_defaults`. A value the user gave (a
``--set``, a preset file's own setting) always wins; only the rest is taken from the table.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, NamedTuple

import gymnasium
import numpy as np

from envs.adapters import say_once
from envs.registry import UnknownEnvironmentError, env_info, make_env
from runtime.config.presets import DEFAULT_PRESET, PRESETS_DIR, Preset
from runtime.config.stop import same_env
from runtime.config.zoo_defaults import zoo_defaults

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
    "gamma": 0.99,
    "lambda": 0.95,
    "lr": 3e-4,
    "clip_param": 0.2,
    "vf_loss_coeff": 0.5,
    "entropy_coeff": 0.0,
    "grad_clip": 0.5,
    "use_kl_loss": False,
    "vf_clip_param": 100000.0,
}
TABLE: Mapping[str, Mapping[str, Any]] = {
    # RL Zoo's Acrobot-v1: 16 envs x 256 steps, 4 epochs, lambda 0.94, observations normalised; SB3's 64x64 tanh.
    # RLlib's action normalisation is off: it leaves discrete actions as they are, but copies and unbatches each one
    # on its way to the env (~7 % of CartPole's env steps/s).
    "discrete": {
        "num_envs_per_env_runner": 16,
        "minibatch_size": 64,
        "num_epochs": 4,
        "lambda": 0.94,
        "observation_filter": "MeanStdFilter",
        "normalize_actions": False,
        "model_config": {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "vf_share_layers": False},
    },
    # SB3's PPO defaults (2048 samples, 10 epochs of 64) spread over 8 envs, observations normalised as the Zoo's
    # PyBullet sections do; the Gaussian's log-std starts at 0 (SB3's default; the Zoo's -2 is tuned per robot).
    "continuous": {
        "num_envs_per_env_runner": 8,
        "minibatch_size": 64,
        "num_epochs": 10,
        "observation_filter": "MeanStdFilter",
        "model_config": {
            "fcnet_hiddens": [64, 64],
            "fcnet_activation": "tanh",
            "vf_share_layers": False,
            "log_std_init": 0.0,
        },
    },
    # RL Zoo's Atari section: 8 envs x 128 steps, 4 epochs of 256, lr 2.5e-4, clip 0.1, entropy 0.01; RLlib's own
    # convolutional encoder for the images (no observation filter on pixels).
    "image": {
        "num_envs_per_env_runner": 8,
        "minibatch_size": 256,
        "num_epochs": 4,
        "lr": 2.5e-4,
        "clip_param": 0.1,
        "entropy_coeff": 0.01,
    },
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


class JobChoice(NamedTuple):
    """What decides where a job's algorithm settings come from (its algorithm names in the library's spelling)."""

    preset: Preset
    named: bool
    """The hyperparameters name the preset (else it is the job's default one)."""
    env: str
    algorithm: str
    preset_algorithm: str
    default_preset: str


class Settings(NamedTuple):
    """The preset-level settings a job trains with, and where they came from."""

    config: Mapping[str, Any]
    source: str
    """What the job records as its preset: the preset's name when its settings are used, else what was."""


APPO_LEAVES = ("num_epochs", "minibatch_size", "vf_clip_param")
"""PPO's settings APPO does without: its circular buffer, not epochs of minibatches, reuses a batch, and its value
loss is never clipped."""


def defaults_for(algorithm: str, spaces: Spaces) -> dict[str, Any] | None:
    """``algorithm``'s settings (RLlib names) for ``spaces``, from RL Zoo's values; None where none are kept. APPO
    (PPO sampled asynchronously) takes PPO's row but :data:`APPO_LEAVES`, each env sampling PPO's rollout length."""
    kind = kind_of(spaces)
    if algorithm in ("PPO", "APPO"):
        settings = ppo_defaults(spaces)
        if algorithm == "APPO":
            settings = {k: v for k, v in settings.items() if k not in APPO_LEAVES}
            settings["rollout_fragment_length"] = ROLLOUT_STEPS[kind]
        return settings
    return zoo_defaults(algorithm, kind)


def _own_file(preset: Preset) -> bool:
    """A user's own rlrt preset file (not a shipped preset, not an RL Zoo file: its converter fills SB3's defaults)."""
    own = preset.path is not None and preset.path.parent.resolve() != PRESETS_DIR.resolve()
    return own and not preset.zoo


def job_settings(
    choice: JobChoice, env_config: Mapping[str, Any], given: Mapping[str, Any], keep: frozenset[str]
) -> Settings:
    """The preset-level settings of a job (``given``: the user's, in the backend's names; ``keep``: the backend's
    environment settings), printing one line that names what was chosen from the spaces.

    - Another algorithm than the preset's: the preset gives only its environment (``env_config`` and ``keep``),
      the rest comes from the table for the algorithm (the library's defaults where it has none, or where the
      preset is an entry point's own default, such as a SageMaker RL launcher's experiment).
    - No preset named, the default one (CartPole's) on another environment: its settings give way to the table.
    - A user's own preset file: its settings, and the table's for the rest.
    - Anything else: the preset's settings unchanged.
    """
    preset = choice.preset
    if choice.algorithm != choice.preset_algorithm:
        base = {k: v for k, v in preset.config.items() if k == "env_config" or k in keep}
        unused = sorted(k for k in preset.config if k not in base)
        if unused:
            note = (
                f"rlrt: preset {preset.name} is for {choice.preset_algorithm}: this {choice.algorithm} job takes "
                f"its environment and stop criteria, not its settings ({', '.join(unused)})"
            )
            say_once(note, note)
        otherwise = f"library-defaults/{choice.algorithm}" if unused else preset.name
        if not choice.named and choice.default_preset != DEFAULT_PRESET:  # an entry point's or launcher's own base:
            return Settings(base, otherwise)  # its script was written against the library's defaults
        return _from_spaces(choice, base, env_config, given, otherwise)
    replaced = not choice.named and choice.default_preset == DEFAULT_PRESET and not same_env(choice.env, preset.env)
    if not replaced and not (choice.named and _own_file(preset)):
        return Settings(preset.config, preset.name)
    if choice.named:
        return _from_spaces(choice, preset.config, env_config, given, preset.name)
    settings = _from_spaces(choice, {}, env_config, given, preset.name)
    # An environment whose spaces are not known here (a family's game, a job's own): the preset as it is.
    return settings if settings.source != preset.name else Settings(preset.config, preset.name)


def _from_spaces(
    choice: JobChoice, base: Mapping[str, Any], env_config: Mapping[str, Any], given: Mapping[str, Any], otherwise: str
) -> Settings:
    """``base`` completed from the table for the job's algorithm and environment's spaces, named ``otherwise`` when
    no row applies (``base`` is then the job's settings as it is)."""
    spaces = env_spaces(choice.env, env_config)
    defaults = defaults_for(choice.algorithm, spaces) if spaces is not None else None
    if spaces is None or defaults is None:
        return Settings(base, otherwise)
    chosen = fill(base, given, defaults)
    settings = dict(base)
    for key, value in chosen.items():
        settings[key] = {**(settings.get(key) or {}), **value} if isinstance(value, Mapping) else value
    if chosen:
        listed = ", ".join(f"{k}={_short(v)}" for k, v in _flat(chosen))
        note = (
            f"rlrt: {choice.algorithm} settings from {choice.env}'s spaces ({kind_of(spaces)} "
            f"actions/observations; RL Zoo's values where neither you nor the preset set one): {listed}"
        )
        say_once(note, note)
    own = choice.named and choice.algorithm == choice.preset_algorithm
    return Settings(settings, choice.preset.name if own else f"space-defaults/{choice.algorithm}-{kind_of(spaces)}")


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
            if any(key in x and not isinstance(x[key], Mapping) for x in (base, given)):
                continue  # a value of another kind is the user's: it stands, and the setting's check names it
            inner = {
                k: v for k, v in value.items() if k not in (base.get(key) or {}) and k not in (given.get(key) or {})
            }
            if inner:
                chosen[key] = inner
        elif key not in base and key not in given:
            chosen[key] = value
    return chosen


def _short(value: Any) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value if not isinstance(value, np.generic) else value.item())
