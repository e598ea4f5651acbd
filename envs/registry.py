"""Environment ids, their aliases and one function that builds any of them.

This module knows nothing of SageMaker or RLlib: it maps a user-facing id (including the old names the SageMaker RL
seeds use, such as ``RoboschoolHopper-v1``) onto a gymnasium id and builds the environment. Packages that register
environments on import (``pybullet_envs_gymnasium``) are imported only when one of their ids is asked for.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import gymnasium as gym


@dataclass(frozen=True)
class EnvInfo:
    """What we know about an environment id before building it."""

    gym_id: str
    """The gymnasium id the environment is registered under."""
    module: str | None = None
    """A module whose import registers ``gym_id`` (``None`` for gymnasium's own environments)."""
    description: str = ""


KNOWN_ENVS: Mapping[str, EnvInfo] = MappingProxyType(
    {
        "CartPole-v1": EnvInfo("CartPole-v1", None, "gymnasium's CartPole, 500-step episodes"),
        "CartPole-v0": EnvInfo("CartPole-v0", None, "gymnasium's CartPole, 200-step episodes (the Batch RL seed's)"),
        "Pendulum-v1": EnvInfo("Pendulum-v1", None, "gymnasium's Pendulum, continuous torque"),
        "ReacherBulletEnv-v0": EnvInfo(
            "ReacherBulletEnv-v0", "pybullet_envs_gymnasium", "PyBullet Reacher: a 2-joint arm reaches a target"
        ),
        "HopperBulletEnv-v0": EnvInfo(
            "HopperBulletEnv-v0", "pybullet_envs_gymnasium", "PyBullet Hopper: a one-legged robot hops forward"
        ),
        "HumanoidBulletEnv-v0": EnvInfo(
            "HumanoidBulletEnv-v0", "pybullet_envs_gymnasium", "PyBullet Humanoid: a 3D humanoid learns to run"
        ),
    }
)

ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # The seeds' Roboschool ids; PyBullet's environments are Roboschool's maintained successors.
        "RoboschoolReacher-v1": "ReacherBulletEnv-v0",
        "RoboschoolHopper-v1": "HopperBulletEnv-v0",
        "RoboschoolHumanoid-v1": "HumanoidBulletEnv-v0",
        "Reacher": "ReacherBulletEnv-v0",
        "Hopper": "HopperBulletEnv-v0",
        "Humanoid": "HumanoidBulletEnv-v0",
        "CartPole": "CartPole-v1",
    }
)


class UnknownEnvironmentError(ValueError):
    """Raised for an environment id that is neither known nor registered with gymnasium."""


def canonical_env_id(env_id: str) -> str:
    """Return the canonical id for ``env_id`` (aliases resolved); raise UnknownEnvironmentError if unknown."""
    env_id = ALIASES.get(env_id, env_id)
    if env_id in KNOWN_ENVS or env_id in gym.registry:
        return env_id
    choices = sorted(set(KNOWN_ENVS) | set(ALIASES))
    close = difflib.get_close_matches(env_id, choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UnknownEnvironmentError(
        f"Unknown environment '{env_id}'.{hint} Known environments: {', '.join(sorted(KNOWN_ENVS))} "
        f"(aliases: {', '.join(sorted(ALIASES))})."
    )


def ensure_registered(env_id: str) -> str:
    """Import whatever registers ``env_id`` with gymnasium and return its gymnasium id."""
    canonical = canonical_env_id(env_id)
    info = KNOWN_ENVS.get(canonical)
    if info is None:
        return canonical
    if info.module is not None:
        importlib.import_module(info.module)
    return info.gym_id


def make_env(env_id: str, env_config: Mapping[str, Any] | None = None) -> gym.Env:
    """Build the environment ``env_id`` (an id or alias) with keyword arguments from ``env_config``.

    ``env_config`` keys are passed to ``gymnasium.make`` (e.g. ``render_mode``, ``max_episode_steps``); keys RLlib
    adds to its EnvContext (worker index and such) are not part of the mapping and never reach the environment.
    The ``fault_*`` keys of :mod:`envs.faults` wrap the environment in a fault injector instead (tests).
    """
    from envs.faults import split_fault_options, with_faults

    gym_id = ensure_registered(env_id)
    faults, kwargs = split_fault_options(dict(env_config or {}))
    return with_faults(gym.make(gym_id, **kwargs), faults)
