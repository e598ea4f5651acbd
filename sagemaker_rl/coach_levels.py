"""Coach's ``level="module:Class"`` environments (a class in the script's source_dir, built with the preset's
``additional_simulator_parameters``) registered as rlrt environments through :mod:`sagemaker_rl.user_envs`, and
built once to check them, for the training job and for the evaluator that plays its model."""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from envs.errors import EnvConfigError, EnvStartError
from runtime.errors import UserError
from sagemaker_rl.user_envs import check_user_env, register_user_env


class _LevelCreator:
    """Coach's ``level="module:Class"``: the environment is ``Class(**additional_simulator_parameters)``."""

    OWN_KEYS = ("render_mode", "max_episode_steps")
    """rlrt's keys that ``sagemaker_rl.user_envs.UserEnvCreator`` applies itself around the environment."""

    def __init__(self, level: str, factory: Any) -> None:
        self.__qualname__ = level  # how UserEnvCreator names the creator in an error
        self.factory = factory

    def __call__(self, env_config: Any) -> Any:
        return self.factory(**{k: v for k, v in dict(env_config).items() if k not in self.OWN_KEYS})


def register_level(level: str, env_config: Mapping[str, Any]) -> str:
    """Register Coach's ``module:Class`` level (a module in source_dir) as an rlrt environment, built once here to
    check it; returns its gymnasium id."""
    from ray.tune.registry import register_env  # heavy: Ray and RLlib (~4 s)

    module_name, _, attribute = level.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"env_params.level {level!r}: {type(exc).__name__}: {exc}") from exc
    name = level.replace(":", ".")
    register_env(name, _LevelCreator(level, factory))
    gym_id = register_user_env(name)
    if gym_id is None:  # registered just above
        raise UserError(f"env_params.level {level!r} could not be registered")
    try:
        check_user_env(gym_id, env_config, reset=True)
    except (EnvConfigError, EnvStartError) as exc:
        raise UserError(str(exc)) from exc
    return gym_id
