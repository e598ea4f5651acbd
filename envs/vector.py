"""Environments whose gymnasium registration brings its own vectorised class (``vector_entry_point``: CartPole's
``CartPoleVectorEnv`` steps all its copies in one NumPy call), built as such instead of as N copies stepped one by
one in Python (gymnasium's ``SyncVectorEnv``, what a library does for any other environment).

Only when nothing of the registry's own building is needed: a plain gymnasium id (no adapter of ours, no native
output to silence) with no keyword arguments in ``env_config`` (those, an episode cap, a fault injector, are what
:func:`envs.registry.make_env` applies to one env at a time). The vectorised class is gymnasium's: same dynamics,
same episode limit (``max_episode_steps`` from the registration), the same "next step" autoreset as ``SyncVectorEnv``.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym

from envs.registry import ensure_registered, env_info, served_on_purpose


def _spec(env_id: str) -> Any:
    """gymnasium's registration of ``env_id`` when the registry would build it with plain ``gymnasium.make``, else
    None (also for an id that does not resolve: the job's checks name that, not this)."""
    try:
        info = env_info(env_id)
        if info.entry_point is not None or info.multi_agent or info.native_lines is not None:
            return None
        gym_id = ensure_registered(env_id).rpartition(":")[2]  # "module:Id": env_info imported the module
        with served_on_purpose(gym_id):
            return gym.spec(gym_id)
    except Exception:  # noqa: BLE001 - an id that does not resolve is trained (and reported) the plain way
        return None


def has_native_vector(env_id: str, env_config: Mapping[str, Any] | None = None) -> bool:
    """Whether :func:`make_native_vector` builds ``env_id`` with this ``env_config`` (empty: the registration's own
    settings only)."""
    if env_config:
        return False
    spec = _spec(env_id)
    return spec is not None and spec.vector_entry_point is not None and not spec.additional_wrappers


def make_native_vector(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` in its own vectorised class (:func:`has_native_vector` must hold)."""
    gym_id = ensure_registered(env_id)
    with served_on_purpose(gym_id):
        return gym.make_vec(gym_id, num_envs=num_envs, vectorization_mode=gym.VectorizeMode.VECTOR_ENTRY_POINT)
