"""Work done once per job, before any env runner starts: check the configuration, find the game, list behaviors."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym

from envs.unity import spaces
from envs.unity.config import UnityConfig
from envs.unity.game import find_player
from envs.unity.session import UnitySession


def prepare_env_config(env_config: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``env_config``, find the player once (download, chmod) and start it once; return ``env_config`` with
    ``player`` filled in.

    Env runners then launch that file directly. Raises :class:`envs.errors.EnvConfigError` naming what is wrong and
    how to provide the game, and :class:`envs.unity.session.UnityPlayerError` for a game that exits at start (a
    missing library, another architecture) or never answers: its exit code (or the wait that ran out) and the last
    lines it printed, kept in ``unity-<worker id>.log`` under ``log_dir``. Starting it here, before any env runner,
    costs one launch and gives that message once, instead of a failure inside every runner.
    """
    config = UnityConfig.from_mapping(env_config)
    player = find_player(config)
    UnitySession.launch(config, player).close()
    return {**dict(env_config), "player": str(player)}


def behavior_spaces(env_config: Mapping[str, Any]) -> dict[str, tuple[gym.Space, gym.Space]]:
    """Launch the game briefly and return each behavior's (observation, action) spaces."""
    settings = dict(env_config)
    settings.pop("max_episode_steps", None)
    config = UnityConfig.from_mapping(settings)
    session = UnitySession.launch(config, find_player(config))
    try:
        specs = dict(session.env.behavior_specs)
        return {name: (spaces.observation_space(spec), spaces.action_space(spec)) for name, spec in specs.items()}
    finally:
        session.close()
