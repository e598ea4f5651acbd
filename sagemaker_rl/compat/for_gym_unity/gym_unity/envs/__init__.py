"""``gym_unity.envs.UnityToGymWrapper``: an ``mlagents_envs`` ``UnityEnvironment`` with one agent as a gym
environment, run by rlrt's own Unity environment (``envs.unity.gym_env.UnityGymEnv``: the same spaces, step and
episode semantics as rlrt's ``Unity`` environment), presented with the gym 0.26 interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.unity.config import UnityConfig
from envs.unity.gym_env import UnityGymEnv
from envs.unity.session import UnitySession
from sagemaker_rl.compat.gym_bridge import GymnasiumAsGym


class UnityGymException(Exception):
    """gym_unity's error type (raised for what the wrapper does not support)."""


class UnityToGymWrapper(GymnasiumAsGym):
    """Wrap ``unity_env`` (an ``mlagents_envs.environment.UnityEnvironment`` already started by the script)."""

    def __init__(self, unity_env: Any, uint8_visual: bool = False, flatten_branched: bool = False,
                 allow_multiple_obs: bool = False, action_space_seed: int | None = None) -> None:
        if uint8_visual or flatten_branched or allow_multiple_obs:
            raise UnityGymException("rlrt's UnityToGymWrapper supports the defaults only (uint8_visual, "
                                    "flatten_branched and allow_multiple_obs False).")
        config = UnityConfig.from_mapping({})
        worker_id = int(getattr(unity_env, "_worker_id", 0) or 0)
        session = UnitySession(config, Path(str(getattr(unity_env, "_file_name", None) or "UnityEnvironment")),
                               unity_env, worker_id, None)
        super().__init__(UnityGymEnv(session=session))
        if action_space_seed is not None:
            self.action_space.seed(action_space_seed)
