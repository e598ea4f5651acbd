"""The environments rlrt knows by name: what each id is (:class:`EnvInfo`), the ids themselves (:data:`KNOWN_ENVS`),
the ``<prefix>:<game>`` ids (:data:`GAME_PREFIXES`) and the old names that stand for them (:data:`ALIASES`, such as
the SageMaker RL seeds' ``RoboschoolHopper-v1``). A table, read by :mod:`envs.registry`, which resolves ids and builds
the environments; adding an environment means adding a row here.

Some environments are built by our own adapters rather than ``gymnasium.make`` (``EnvInfo.entry_point``), and some
need the job's context (``EnvInfo.job_context``: the runtime passes ``train_dir``, ``log_dir`` and the env runner's
``worker_index`` in ``env_config``). Unity games: ``Unity`` (one agent) and ``UnityMultiAgent`` take the game in
``env_config['env_name']`` (a registry id such as ``Basic``, or a player file in the ``train`` channel);
``unity:<game>`` and ``unity-multi:<game>`` name the game in the id itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from envs.native_output import PYBULLET_LINES


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
            "ReacherBulletEnv-v0",
            "pybullet_envs_gymnasium",
            "PyBullet Reacher: a 2-joint arm reaches a target",
            camera=MappingProxyType({"_cam_dist": 0.6, "_cam_pitch": -75.0}),
            native_lines=PYBULLET_LINES,
            slow_step=True,
        ),
        # PyBullet's other robots, built alike. Reacher, Hopper and Humanoid have presets; the others train with the
        # PPO settings chosen from their spaces (runtime/config/space_defaults.py). The walkers step at ~900-2,100/s
        # in one process on a 2-core AMD EPYC, the inverted pendulums at ~7,200-8,100/s (Acrobot-v1: ~13,700/s), so
        # only the walkers and Pusher have slow steps. Not PyBullet's Thrower, whose model file makes PyBullet print
        # a warning about its own data at every load.
        **{
            gym_id: EnvInfo(
                gym_id, "pybullet_envs_gymnasium", f"PyBullet {what}", native_lines=PYBULLET_LINES, slow_step=slow
            )
            for gym_id, what, slow in (
                ("HopperBulletEnv-v0", "Hopper: a one-legged robot hops forward", True),
                ("HumanoidBulletEnv-v0", "Humanoid: a 3D humanoid learns to run", True),
                ("HalfCheetahBulletEnv-v0", "HalfCheetah: a 2D cheetah learns to run", True),
                ("Walker2DBulletEnv-v0", "Walker2D: a 2D biped learns to walk", True),
                ("AntBulletEnv-v0", "Ant: a four-legged robot learns to walk", True),
                ("HumanoidFlagrunBulletEnv-v0", "HumanoidFlagrun: a 3D humanoid runs to flags", True),
                (
                    "HumanoidFlagrunHarderBulletEnv-v0",
                    "HumanoidFlagrunHarder: a 3D humanoid runs to flags, pushed",
                    True,
                ),
                ("PusherBulletEnv-v0", "Pusher: an arm pushes an object to a target", True),
                ("InvertedPendulumBulletEnv-v0", "InvertedPendulum: a cart balances a pole", False),
                ("InvertedDoublePendulumBulletEnv-v0", "InvertedDoublePendulum: a cart balances two poles", False),
                ("InvertedPendulumSwingupBulletEnv-v0", "InvertedPendulumSwingup: a cart swings a pole up", False),
            )
        },
        # gymnasium's Box2D lander (the Box2D package) and MuJoCo robots (the mujoco package), the first environments
        # of RL Baselines3 Zoo's and CleanRL's users. Under load on a 2-core AMD EPYC the robots step at ~800-3,100/s
        # in one process, as PyBullet's walkers; LunarLander at ~5,400-9,500/s.
        "LunarLander-v3": EnvInfo(
            "LunarLander-v3",
            None,
            "gymnasium's Box2D LunarLander: land between the flags with 4 discrete engine actions",
        ),
        "LunarLanderContinuous-v3": EnvInfo(
            "LunarLanderContinuous-v3", None, "gymnasium's Box2D LunarLander with continuous main and side engines"
        ),
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
