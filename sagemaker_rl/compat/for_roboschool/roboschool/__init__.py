"""rlrt's compatibility module for ``roboschool`` (unmaintained since 2019; see docs/MIGRATING.md).

Importing it registers the Roboschool ids SageMaker RL scripts use with the ``gym`` package's registry, each
building PyBullet's maintained successor (the ids rlrt's env registry maps them onto): ``gym.make(
"RoboschoolReacher-v1")`` -> ``ReacherBulletEnv-v0``, Hopper -> ``HopperBulletEnv-v0``, HalfCheetah ->
``HalfCheetahBulletEnv-v0``, and so on for each Roboschool robot PyBullet has. The environment is presented as a gym
0.26 environment (gym spaces, the five-tuple step), so the user's gym code and wrappers work; rlrt adapts it back to
gymnasium with Shimmy.
"""

from __future__ import annotations

from typing import Any

import gym

from envs.catalog import ALIASES
from envs.registry import make_known
from sagemaker_rl.compat.gym_bridge import GymnasiumAsGym

IDS = tuple(alias for alias in ALIASES if alias.startswith("Roboschool"))


def make(roboschool_id: str, **kwargs: Any) -> GymnasiumAsGym:
    """Build the PyBullet successor of ``roboschool_id`` as a gym 0.26 environment."""
    return GymnasiumAsGym(make_known(roboschool_id, **kwargs))


def _register() -> None:
    for env_id in IDS:
        if env_id not in gym.envs.registry:
            gym.register(id=env_id, entry_point=make, kwargs={"roboschool_id": env_id})


_register()  # what `import roboschool` did: register its environments with gym
