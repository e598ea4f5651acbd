"""Environment ids resolved (aliases, ``<prefix>:<game>``, gymnasium's registry) and one function that builds any
of them.

This module knows nothing of SageMaker or RLlib: it maps a user-facing id (including the old names the SageMaker RL
seeds use, such as ``RoboschoolHopper-v1``) onto a gymnasium id and builds the environment. Packages that register
environments on import (``pybullet_envs_gymnasium``) are imported only when one of their ids is asked for. The ids
rlrt knows by name, and what it knows of each, are :mod:`envs.catalog`'s.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import re
import sys
import warnings
from typing import Any, Callable, Iterator, Mapping

import gymnasium as gym

from envs.catalog import ALIASES, GAME_PREFIXES, KNOWN_ENVS, EnvInfo
from envs.errors import EnvConfigError
from envs.faults import split_fault_options, with_faults
from envs.native_output import QuietFirstReset, without_native_lines
from envs.rendering import plain_frames


EPISODE_STEP_CAP = "episode_step_cap"
"""An ``env_config`` key of :func:`make_env`: cut episodes at this many steps when that is shorter than the
environment's own limit (never lengthens one; ``max_episode_steps`` replaces the limit, as in gymnasium)."""


class UnknownEnvironmentError(ValueError):
    """Raised for an environment id that is neither known nor registered with gymnasium."""


def split_game_id(env_id: str) -> tuple[str, str | None]:
    """``"unity:Basic"`` -> ``("Unity", "Basic")``; any other id -> ``(env_id, None)``."""
    prefix, sep, game = env_id.partition(":")
    family = GAME_PREFIXES.get(prefix.lower()) if sep else None
    if family is None or not game.strip():
        return env_id, None
    return family, game.strip()


def canonical_env_id(env_id: str) -> str:
    """Return the canonical id for ``env_id`` (aliases resolved); raise UnknownEnvironmentError if unknown."""
    env_id = ALIASES.get(env_id, env_id)
    retired = retired_message(env_id)
    if retired is not None:
        raise UnknownEnvironmentError(retired)
    if env_id in KNOWN_ENVS or env_id in gym.registry or split_game_id(env_id)[1] is not None:
        return env_id
    if _module_registers(env_id):
        return env_id
    # Gymnasium's registry is open (its own ids, installed packages', a user's register() calls): suggest from it too.
    choices = sorted(set(KNOWN_ENVS) | set(ALIASES) | set(gym.registry))
    close = difflib.get_close_matches(env_id, choices, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UnknownEnvironmentError(
        f"Unknown environment '{env_id}': not a registered gymnasium id, nor one of rlrt's own names.{hint} Any id "
        "gymnasium has registered works (its own, an installed package's, or one your code registers with "
        "gymnasium.register before rlrt starts; `python -c 'import gymnasium; gymnasium.pprint_registry()'` lists "
        f"them); rlrt's own: {', '.join(sorted(KNOWN_ENVS))} (aliases: {', '.join(sorted(ALIASES))}; and "
        f"{', '.join(p + ':<game>' for p in GAME_PREFIXES)})."
    )


def retired_message(env_id: str) -> str | None:
    """What to train instead of an id gymnasium still registers but no longer builds: its MuJoCo robots' v2 and v3
    (``Hopper-v3``: mujoco-py's, the versions older SageMaker RL and RL Zoo examples name), whose entry point only
    raises an ImportError. None for any other id."""
    spec = gym.registry.get(env_id)
    if spec is None or getattr(spec.entry_point, "__name__", "") != "_raise_mujoco_py_error":
        return None
    current = sorted(
        (other.version or 0, other.id)
        for other in gym.registry.values()
        if (other.name, other.namespace) == (spec.name, spec.namespace) and isinstance(other.entry_point, str)
    )
    instead = (
        (
            f" {current[-1][1]} is the same robot on the maintained MuJoCo bindings (installed): train "
            f"--env {current[-1][1]}."
        )
        if current
        else ""
    )
    return (
        f"The environment {env_id} is one of gymnasium's mujoco-py robots (its v2 and v3, on MuJoCo's old, "
        "unmaintained bindings), which gymnasium 1.x no longer builds (they moved to gymnasium-robotics)." + instead
    )


def _module_registers(env_id: str) -> bool:
    """Whether ``env_id`` is gymnasium's ``"module:Name-v0"``: ``gymnasium.make`` imports the module, which registers
    ``Name-v0`` (every process that makes the env imports it: env runners too). A module that fails to import is
    named with its error."""
    module, sep, name = env_id.partition(":")
    if not sep or not module.strip() or not name.strip():
        return False
    try:
        importlib.import_module(module.strip())
    except Exception as exc:  # a user's module: any error it raises is theirs to read
        raise UnknownEnvironmentError(
            f"The environment '{env_id}' names the module '{module}', which does not "
            f"import: {type(exc).__name__}: {exc}. Put it on PYTHONPATH (or in the job's "
            "source folder) and check it imports."
        ) from exc
    return name.strip() in gym.registry


def env_info(env_id: str) -> EnvInfo:
    """What the registry knows about ``env_id`` (an id, alias or ``<prefix>:<game>``); gymnasium ids get a plain
    :class:`EnvInfo`."""
    family, _game = split_game_id(canonical_env_id(env_id))
    return KNOWN_ENVS.get(family) or EnvInfo(family)


def _load(reference: str) -> Callable[..., Any]:
    module, _, name = reference.partition(":")
    loaded: Callable[..., Any] = getattr(importlib.import_module(module), name)  # the registry names functions
    return loaded


def _with_game(env_id: str, env_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``env_config`` with ``env_name`` defaulting to the game a ``<prefix>:<game>`` id names."""
    config = dict(env_config or {})
    _family, game = split_game_id(canonical_env_id(env_id))
    if game is not None:
        config.setdefault("env_name", game)
    return config


def prepare_env_config(env_id: str, env_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check and complete ``env_config`` for ``env_id`` once, before environments are built (may find, download or
    chmod files); :class:`EnvConfigError` for a user-fixable problem. Environments without a hook get it unchanged."""
    info = env_info(env_id)
    config = _with_game(env_id, env_config)
    if info.prepare is None:
        return config
    return dict(_load(info.prepare)(config))


def agent_groups(env_id: str, env_config: Mapping[str, Any] | None) -> dict[str, tuple[gym.Space, gym.Space]]:
    """A multi-agent environment's agent groups (one policy each) and their (observation, action) spaces."""
    info = env_info(env_id)
    if not info.multi_agent or info.agent_groups is None:
        raise ValueError(f"'{env_id}' is not a multi-agent environment with agent groups")
    return dict(_load(info.agent_groups)(_with_game(env_id, env_config)))


def group_function(env_id: str) -> Callable[[str], str]:
    """A multi-agent environment's agent id -> group function (a module-level function, so it pickles)."""
    info = env_info(env_id)
    if info.group_of is None:
        raise ValueError(f"'{env_id}' has no agent groups")
    return _load(info.group_of)


def ensure_registered(env_id: str) -> str:
    """Import whatever registers ``env_id`` with gymnasium and return its gymnasium id."""
    canonical = canonical_env_id(env_id)
    info = KNOWN_ENVS.get(canonical)
    if info is None:
        return canonical
    if info.module is not None:
        if info.native_lines is not None:
            with without_native_lines(info.native_lines):
                importlib.import_module(info.module)
        else:
            importlib.import_module(info.module)
    return info.gym_id


@contextlib.contextmanager
def served_on_purpose(gym_id: str) -> Iterator[None]:
    """Without gymnasium's notice that ``gym_id`` is out of date when rlrt serves that version on purpose (one of its
    own ids: the Batch RL seed's ``CartPole-v0``)."""
    with warnings.catch_warnings():
        if gym_id in KNOWN_ENVS:
            warnings.filterwarnings("ignore", message=rf".*The environment {re.escape(gym_id)} is out of date")
        yield


def make_known(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` of ``env_id`` (an id or alias, registered first), framed (:func:`framed`), without the lines
    a user cannot act on: its native code's (:attr:`EnvInfo.native_lines`) and gymnasium's notice that a version
    rlrt serves on purpose (the Batch RL seed's ``CartPole-v0``) is out of date."""
    gym_id = ensure_registered(env_id)
    native = env_info(env_id).native_lines
    quiet = without_native_lines(native) if native is not None else contextlib.nullcontext()
    with served_on_purpose(gym_id), quiet:
        try:
            env = framed(gym.make(gym_id, **kwargs), env_id)
            plain_frames(env)
        except gym.error.DependencyNotInstalled as exc:  # an extra such as gymnasium[box2d], named by gymnasium
            raise EnvConfigError(
                f"The environment {gym_id} needs a package that is not installed in this Python environment "
                f"({sys.prefix}): {exc}. Install it there (in the image: a RUN line after the environment is "
                "built), or train on another environment."
            ) from exc
    return env if native is None else QuietFirstReset(env, native)


def make_env(env_id: str, env_config: Mapping[str, Any] | None = None) -> gym.Env:
    """Build the environment ``env_id`` (an id or alias) with keyword arguments from ``env_config``.

    ``env_config`` keys are passed to ``gymnasium.make`` (e.g. ``render_mode``, ``max_episode_steps``; but
    :data:`EPISODE_STEP_CAP`, which caps episodes, is ours); keys RLlib
    adds to its EnvContext (worker index and such) are not part of the mapping and never reach the environment.
    The ``fault_*`` keys of :mod:`envs.faults` wrap the environment in a fault injector instead (tests).
    """
    info = env_info(env_id)
    config = dict(env_config or {})
    cap = config.pop(EPISODE_STEP_CAP, None)
    if info.entry_point is not None:
        config = _with_game(env_id, config)
        if info.multi_agent:
            if cap is not None:  # the multi-agent env truncates its episodes itself
                limit = config.get("max_episode_steps")
                config["max_episode_steps"] = int(cap) if limit is None else min(int(cap), int(limit))
            multi_agent_env: gym.Env = _load(info.entry_point)(config)  # RLlib's MultiAgentEnv is a gymnasium Env
            return multi_agent_env
        max_steps = config.pop("max_episode_steps", None)
        env = _load(info.entry_point)(config)
        if max_steps is not None:
            env = gym.wrappers.TimeLimit(env, int(max_steps))
        return capped(env, cap)
    faults, kwargs = split_fault_options(config)
    return with_faults(capped(make_known(env_id, **kwargs), cap), faults)


def framed(env: gym.Env, env_id: str) -> gym.Env:
    """``env`` with its camera placed as :attr:`EnvInfo.camera` says for ``env_id`` (unchanged when it says nothing)."""
    for name, value in (env_info(env_id).camera or {}).items():
        if hasattr(env.unwrapped, name):
            setattr(env.unwrapped, name, value)
    return env


def episode_limit(env: gym.Env) -> int | None:
    """The number of steps after which ``env`` truncates an episode (its outermost TimeLimit), or None."""
    while True:
        if isinstance(env, gym.wrappers.TimeLimit):
            # TimeLimit's only public form of its limit is env.spec.max_episode_steps, and that spec is None for
            # an environment built without gymnasium.make (a user's creator, an entry point's class).
            # Pinned by tests/unit/test_envs.py.
            return int(env._max_episode_steps)  # noqa: SLF001
        inner = getattr(env, "env", None)
        if inner is None or inner is env:
            return None
        env = inner


def capped(env: gym.Env, cap: Any) -> gym.Env:
    """``env`` with its episodes cut at ``cap`` steps when that is shorter than its own limit (RLlib 1.x's
    ``horizon``: a cap, never an extension)."""
    if cap is None:
        return env
    limit = episode_limit(env)
    return env if limit is not None and limit <= int(cap) else gym.wrappers.TimeLimit(env, int(cap))
