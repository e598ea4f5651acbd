"""Old-style environments as gymnasium environments.

Users' own environment creators (the SageMaker RL scripts' ``register_env`` creators) may return environments of the
unmaintained ``gym`` package: the 0.21 API (``reset() -> obs``, ``step() -> (obs, reward, done, info)``) or the 0.26
API (already gymnasium's five-tuple, with ``gym.spaces``). :func:`to_gymnasium` adapts them with Shimmy, the Farama
Foundation's maintained adapters; gymnasium environments (and RLlib's multi-agent environments) pass unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium

from envs.errors import EnvConfigError


def _takes_seed(env: Any) -> bool:
    """Whether the innermost environment's ``reset`` follows the 0.26 API (``reset(seed=..., options=...)``)."""
    core = getattr(env, "unwrapped", env)
    try:
        parameters = inspect.signature(core.reset).parameters
    except (TypeError, ValueError):
        return True
    return "seed" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _skip_gym_passive_checks(env: Any) -> None:
    """``gym.make`` wraps environments in gym 0.26's ``PassiveEnvChecker``, whose first-step check uses
    ``np.bool8`` (removed in NumPy 2) and fails every environment; mark its one-time checks as done. Shimmy's
    adapter and RLlib check what they consume themselves."""
    seen = 0
    while env is not None and seen < 64:
        if type(env).__name__ == "PassiveEnvChecker" and type(env).__module__.startswith("gym."):
            env.checked_reset = env.checked_step = env.checked_render = True
        env = getattr(env, "env", None)
        seen += 1


def to_gymnasium(env: Any, source: str) -> gymnasium.Env:
    """``env`` as a gymnasium environment; ``source`` names what built it (for the error when it is no environment).

    A ``gym.Env`` with the 0.26 API is wrapped in Shimmy's ``GymV26CompatibilityV0``; one with the 0.21 API (or any
    object with ``reset``/``step`` that is not a gymnasium environment) in ``GymV21CompatibilityV0``, which turns
    ``done`` into ``terminated``/``truncated`` (``info["TimeLimit.truncated"]``). Anything else is an
    :class:`EnvConfigError` naming ``source`` and what it returned.
    """
    if isinstance(env, gymnasium.Env):
        return env
    if not (callable(getattr(env, "reset", None)) and callable(getattr(env, "step", None))
            and hasattr(env, "observation_space") and hasattr(env, "action_space")):
        raise EnvConfigError(
            f"{source} returned {type(env).__module__}.{type(env).__qualname__} ({str(env)[:80]!r}), which is not an "
            "environment: it must return a gymnasium.Env or a gym.Env (with reset(), step(), observation_space and "
            "action_space).")
    from shimmy import GymV21CompatibilityV0, GymV26CompatibilityV0  # heavy: old-gym adapters (user envs only)

    _skip_gym_passive_checks(env)
    if _takes_seed(env):
        return GymV26CompatibilityV0(env=env)
    return GymV21CompatibilityV0(env=env)
