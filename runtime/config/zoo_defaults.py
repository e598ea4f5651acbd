"""DQN, SAC and IMPALA settings for an environment's kind of spaces, as RL Baselines3 Zoo keeps its defaults per
algorithm (its ``hyperparams/<algo>.yml``); :mod:`runtime.config.space_defaults` picks the row and has PPO's (and
APPO's, derived from PPO's) table.

DQN's and SAC's rows are the Zoo's own sections, in SB3's names and values as the Zoo file writes them, read by the
same converter as a Zoo file given as a preset (:func:`runtime.config.zoo.zoo_settings`), so their RLlib names come
from one place. IMPALA has no Zoo file: its rows are the Zoo's A2C sections (``hyperparams/a2c.yml``; A2C is the
synchronous form of the same actor-critic update) written in RLlib's names.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime.config.zoo import zoo_settings

ZOO_SECTIONS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "DQN": {
        # dqn.yml, Acrobot-v1 ("Tuned"; CartPole-v1's section has the same values but the budget).
        "discrete": {
            "n_timesteps": 150_000,
            "policy": "MlpPolicy",
            "learning_rate": 2.5e-4,
            "batch_size": 512,
            "buffer_size": 100_000,
            "learning_starts": 0,
            "gamma": 0.99,
            "target_update_interval": 5000,
            "train_freq": 16,
            "gradient_steps": 4,
            "exploration_fraction": 0.06,
            "exploration_final_eps": 0.11,
        },
        # dqn.yml, atari, without its AtariWrapper and frame stack (they change the environment).
        "image": {
            "n_timesteps": 10_000_000,
            "policy": "CnnPolicy",
            "buffer_size": 1_000_000,
            "learning_rate": 1e-4,
            "batch_size": 32,
            "learning_starts": 100_000,
            "target_update_interval": 10_000,
            "train_freq": 4,
            "gradient_steps": 1,
            "exploration_fraction": 0.1,
            "exploration_final_eps": 0.1,
        },
    },
    "SAC": {
        # sac.yml, the MuJoCo sections (&mujoco-defaults): SB3's SAC defaults after 10,000 random steps.
        "continuous": {"n_timesteps": 1_000_000, "policy": "MlpPolicy", "learning_starts": 10_000},
    },
}
"""RL Zoo sections (SB3 names) per algorithm and kind of spaces (:func:`runtime.config.space_defaults.kind_of`)."""

_A2C_NETWORK = {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "vf_share_layers": False}
"""SB3's A2C MlpPolicy: separate 64x64 tanh policy and value networks."""

IMPALA: Mapping[str, Mapping[str, Any]] = {
    # a2c.yml, Acrobot-v1: 16 envs, observations normalised, no entropy bonus; SB3's A2C defaults for the rest (5 steps
    # per env per update, lr 7e-4, value coefficient 0.5, gradient norm 0.5). SB3's RMSprop is not RLlib's: Adam.
    "discrete": {
        "num_envs_per_env_runner": 16,
        "rollout_fragment_length": 5,
        "train_batch_size_per_learner": 80,
        "lr": 7e-4,
        "gamma": 0.99,
        "entropy_coeff": 0.0,
        "vf_loss_coeff": 0.5,
        "grad_clip": 0.5,
        "observation_filter": "MeanStdFilter",
        "model_config": _A2C_NETWORK,
    },
    # a2c.yml, the PyBullet sections (&pybullet-defaults): 4 envs x 8 steps, value coefficient 0.4, the Gaussian's
    # log-std starting at -2; their learning rate lin_0.00096 decays over a budget a job need not have: kept at 9.6e-4.
    "continuous": {
        "num_envs_per_env_runner": 4,
        "rollout_fragment_length": 8,
        "train_batch_size_per_learner": 32,
        "lr": 9.6e-4,
        "gamma": 0.99,
        "entropy_coeff": 0.0,
        "vf_loss_coeff": 0.4,
        "grad_clip": 0.5,
        "observation_filter": "MeanStdFilter",
        "model_config": {**_A2C_NETWORK, "log_std_init": -2.0},
    },
    # a2c.yml, atari: 16 envs, entropy 0.01, value coefficient 0.25; RLlib's convolutional encoder on raw pixels.
    "image": {
        "num_envs_per_env_runner": 16,
        "rollout_fragment_length": 5,
        "train_batch_size_per_learner": 80,
        "lr": 7e-4,
        "gamma": 0.99,
        "entropy_coeff": 0.01,
        "vf_loss_coeff": 0.25,
        "grad_clip": 0.5,
    },
}
"""IMPALA's rows, in RLlib's names."""


def zoo_defaults(algorithm: str, kind: str) -> dict[str, Any] | None:
    """The settings (RLlib names) of DQN, SAC or IMPALA for ``kind`` of spaces; None where the Zoo has no row (DQN on
    continuous actions, SAC on discrete ones or images) or for another algorithm."""
    if algorithm == "IMPALA":
        return _copy(IMPALA[kind])
    section = ZOO_SECTIONS.get(algorithm, {}).get(kind)
    if section is None:
        return None
    config, _, _ = zoo_settings(algorithm, section, f"RL Zoo's {algorithm.lower()}.yml")
    if kind == "image":  # RLlib's convolutional encoder, not the Zoo's MLP sizes
        config.pop("model_config", None)
    return config


def _copy(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _copy(value) if isinstance(value, Mapping) else list(value) if isinstance(value, list) else value
        for key, value in row.items()
    }
