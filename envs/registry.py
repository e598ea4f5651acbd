"""Environment ids, their aliases and one function that builds any of them.

This module knows nothing of SageMaker or RLlib: it maps a user-facing id (including the old names the SageMaker RL
seeds use, such as ``RoboschoolHopper-v1``) onto a gymnasium id and builds the environment. Packages that register
environments on import (``pybullet_envs_gymnasium``) are imported only when one of their ids is asked for.

Some environments are built by our own adapters rather than ``gymnasium.make`` (``EnvInfo.entry_point``), and some
need the job's context (``EnvInfo.job_context``: the runtime passes ``train_dir``, ``log_dir`` and the env runner's
``worker_index`` in ``env_config``). Unity games: ``Unity`` (one agent) and ``UnityMultiAgent`` take the game in
``env_config['env_name']`` (a registry id such as ``Basic``, or a player file in the ``train`` channel);
``unity:<game>`` and ``unity-multi:<game>`` name the game in the id itself.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import re
import sys
import warnings
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

import gymnasium as gym

from envs.errors import EnvConfigError
from envs.faults import split_fault_options, with_faults
from envs.native_output import PYBULLET_LINES, QuietFirstReset, without_native_lines
from envs.rendering import plain_frames


@dataclass(frozen=True)
class EnvInfo:
    """What we know about an environment id before building it."""

    gym_id: str
    """The gymnasium id the environment is registered under."""
    module: str | None = None
    """A module whose import registers ``gym_id`` (``None`` for gymnasium's own environments)."""
    description: str = ""
    entry_point: str | None = None
    """``"module:function"`` building the environment from ``env_config`` (instead of ``gymnasium.make``)."""
    multi_agent: bool = False
    """The environment is multi-agent, in RLlib's conventions (dicts by agent id; a backend adapts it to its
    library)."""
    job_context: bool = False
    """``env_config`` may carry the job's ``train_dir``, ``log_dir`` and RLlib's ``worker_index``."""
    prepare: str | None = None
    """``"module:function(env_config) -> env_config"``: checks and completes ``env_config`` once, before any env
    runner starts (e.g. finds, downloads or chmods a game); raises :class:`EnvConfigError`."""
    agent_groups: str | None = None
    """Multi-agent: ``"module:function(env_config) -> {group: (obs_space, action_space)}"`` (one policy a group)."""
    group_of: str | None = None
    """Multi-agent: ``"module:function(agent_id) -> group"``."""
    renders: bool = True
    """Whether the environment can render ``rgb_array`` frames (False: known not to, without building it)."""
    camera: Mapping[str, float] | None = None
    """Attributes of the built environment that frame its ``rgb_array`` camera (PyBullet's ``_cam_dist``,
    ``_cam_pitch``): the Reacher's arm is a few pixels wide from PyBullet's default 3 m."""
    slow_step: bool = False
    """A step costs enough (a physics engine's, ~0.5 ms) that sampling on every CPU pays while PPO's learner waits
    for the batch: on two CPUs the job gets two env runners where others get none (runtime/config/runners.py)."""
    native_lines: re.Pattern[bytes] | None = None
    """What the environment's native code prints to stdout that no user can act on (PyBullet's build time and
    ``argv[0]=``): left out while its module is imported, the environment made and first reset."""


KNOWN_ENVS: Mapping[str, EnvInfo] = MappingProxyType(
    {
        "CartPole-v1": EnvInfo("CartPole-v1", None, "gymnasium's CartPole, 500-step episodes"),
        "CartPole-v0": EnvInfo("CartPole-v0", None, "gymnasium's CartPole, 200-step episodes (the Batch RL seed's)"),
        "Pendulum-v1": EnvInfo("Pendulum-v1", None, "gymnasium's Pendulum, continuous torque"),
        "ReacherBulletEnv-v0": EnvInfo(
            "ReacherBulletEnv-v0", "pybullet_envs_gymnasium", "PyBullet Reacher: a 2-joint arm reaches a target",
            camera=MappingProxyType({"_cam_dist": 0.6, "_cam_pitch": -75.0}), native_lines=PYBULLET_LINES,
            slow_step=True,
        ),
        # PyBullet's other robots, built alike. Reacher, Hopper and Humanoid have presets; the others train with the
        # PPO settings chosen from their spaces (runtime/config/space_defaults.py). The walkers step at ~900-2,100/s
        # in one process on a 2-core AMD EPYC, the inverted pendulums at ~7,200-8,100/s (Acrobot-v1: ~13,700/s), so
        # only the walkers and Pusher have slow steps. Not PyBullet's Thrower, whose model file makes PyBullet print
        # a warning about its own data at every load.
        **{
            gym_id: EnvInfo(gym_id, "pybullet_envs_gymnasium", f"PyBullet {what}", native_lines=PYBULLET_LINES,
                            slow_step=slow)
            for gym_id, what, slow in (
                ("HopperBulletEnv-v0", "Hopper: a one-legged robot hops forward", True),
                ("HumanoidBulletEnv-v0", "Humanoid: a 3D humanoid learns to run", True),
                ("HalfCheetahBulletEnv-v0", "HalfCheetah: a 2D cheetah learns to run", True),
                ("Walker2DBulletEnv-v0", "Walker2D: a 2D biped learns to walk", True),
                ("AntBulletEnv-v0", "Ant: a four-legged robot learns to walk", True),
                ("HumanoidFlagrunBulletEnv-v0", "HumanoidFlagrun: a 3D humanoid runs to flags", True),
                ("HumanoidFlagrunHarderBulletEnv-v0", "HumanoidFlagrunHarder: a 3D humanoid runs to flags, pushed",
                 True),
                ("PusherBulletEnv-v0", "Pusher: an arm pushes an object to a target", True),
                ("InvertedPendulumBulletEnv-v0", "InvertedPendulum: a cart balances a pole", False),
                ("InvertedDoublePendulumBulletEnv-v0", "InvertedDoublePendulum: a cart balances two poles", False),
                ("InvertedPendulumSwingupBulletEnv-v0", "InvertedPendulumSwingup: a cart swings a pole up", False),
            )
        },
        # gymnasium's Box2D lander (the Box2D package) and MuJoCo robots (the mujoco package), the first environments
        # of RL Baselines3 Zoo's and CleanRL's users. Under load on a 2-core AMD EPYC the robots step at ~800-3,100/s
        # in one process, as PyBullet's walkers; LunarLander at ~5,400-9,500/s.
        "LunarLander-v3": EnvInfo("LunarLander-v3", None, "gymnasium's Box2D LunarLander: land between the flags "
                                  "with 4 discrete engine actions"),
        "LunarLanderContinuous-v3": EnvInfo("LunarLanderContinuous-v3", None, "gymnasium's Box2D LunarLander with "
                                            "continuous main and side engines"),
        **{
            gym_id: EnvInfo(gym_id, None, f"gymnasium's MuJoCo {what}", slow_step=True)
            for gym_id, what in (
                ("Hopper-v5", "Hopper: a one-legged robot hops forward"),
                ("HalfCheetah-v5", "HalfCheetah: a 2D cheetah learns to run"),
                ("Humanoid-v5", "Humanoid: a 3D humanoid learns to run"),
                ("Walker2d-v5", "Walker2d: a 2D biped learns to walk"),
                ("Ant-v5", "Ant: a four-legged robot learns to walk"),
            )
        },
        "Unity": EnvInfo(
            "Unity",
            description="a Unity ML-Agents game with one agent (env_config env_name: registry id or player file)",
            entry_point="envs.unity.gym_env:make_unity_env",
            job_context=True,
            prepare="envs.unity.prepare:prepare_env_config",
            renders=False,
        ),
        "UnityMultiAgent": EnvInfo(
            "UnityMultiAgent",
            description="a Unity ML-Agents game with several agents; agent ids '<behavior>_<agent_id>'",
            entry_point="envs.unity.multi_agent:make_unity_multi_agent_env",
            multi_agent=True,
            job_context=True,
            prepare="envs.unity.prepare:prepare_env_config",
            agent_groups="envs.unity.prepare:behavior_spaces",
            group_of="envs.unity.multi_agent:behavior_of",
            renders=False,
        ),
        "DeepRacer-v0": EnvInfo(
            "DeepRacer-v0",
            description="DeepRacer-compatible track: reward_function(params), model_metadata.json, race types",
            entry_point="envs.deepracer.env:make",
        ),
    }
)

# "<prefix>:<game>" ids: the environment family and the game it plays (its env_config env_name).
GAME_PREFIXES: Mapping[str, str] = MappingProxyType({"unity": "Unity", "unity-multi": "UnityMultiAgent"})

ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # The seeds' Roboschool ids; PyBullet's environments are Roboschool's maintained successors.
        "RoboschoolReacher-v1": "ReacherBulletEnv-v0",
        "RoboschoolHopper-v1": "HopperBulletEnv-v0",
        "RoboschoolHumanoid-v1": "HumanoidBulletEnv-v0",
        "RoboschoolHalfCheetah-v1": "HalfCheetahBulletEnv-v0",
        "RoboschoolWalker2d-v1": "Walker2DBulletEnv-v0",
        "RoboschoolAnt-v1": "AntBulletEnv-v0",
        "RoboschoolInvertedPendulum-v1": "InvertedPendulumBulletEnv-v0",
        "RoboschoolInvertedDoublePendulum-v1": "InvertedDoublePendulumBulletEnv-v0",
        "RoboschoolInvertedPendulumSwingup-v1": "InvertedPendulumSwingupBulletEnv-v0",
        "RoboschoolHumanoidFlagrun-v1": "HumanoidFlagrunBulletEnv-v0",
        "RoboschoolHumanoidFlagrunHarder-v1": "HumanoidFlagrunHarderBulletEnv-v0",
        "Reacher": "ReacherBulletEnv-v0",
        "Hopper": "HopperBulletEnv-v0",
        "Humanoid": "HumanoidBulletEnv-v0",
        "CartPole": "CartPole-v1",
        "LunarLander": "LunarLander-v3",
        # The Unity seed's evaluation job names the game alone ("env": "Basic").
        "Basic": "unity:Basic",
        "3DBall": "unity-multi:3DBall",
        "DeepRacer": "DeepRacer-v0",
        "deepracer": "DeepRacer-v0",
    }
)


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
    current = sorted((other.version or 0, other.id) for other in gym.registry.values()
                     if (other.name, other.namespace) == (spec.name, spec.namespace)
                     and isinstance(other.entry_point, str))
    instead = (f" {current[-1][1]} is the same robot on the maintained MuJoCo bindings (installed): train "
               f"--env {current[-1][1]}.") if current else ""
    return (f"The environment {env_id} is one of gymnasium's mujoco-py robots (its v2 and v3, on MuJoCo's old, "
            "unmaintained bindings), which gymnasium 1.x no longer builds (they moved to gymnasium-robotics)."
            + instead)


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
        raise UnknownEnvironmentError(f"The environment '{env_id}' names the module '{module}', which does not "
                                      f"import: {type(exc).__name__}: {exc}. Put it on PYTHONPATH (or in the job's "
                                      "source folder) and check it imports.") from exc
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
                "built), or train on another environment.") from exc
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
