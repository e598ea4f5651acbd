"""The environment's side of a job: its ``env_config`` completed with the job's context, checked once.

Environments never read SageMaker paths themselves. Those that take the job's context (``EnvInfo.job_context``,
e.g. Unity games) get it here in ``env_config``: ``train_dir`` (the ``train`` channel, when the job has one) and
``log_dir`` (``output/intermediate``, for per-worker logs); RLlib's ``worker_index`` is added per env runner by
:func:`runtime.backends.rllib.config.register_environment`. Then the environment's one-time preparation runs (finding,
downloading or chmod-ing a game, and starting it once) and a user-fixable problem, or a game that cannot start,
becomes a :class:`UserError`.
"""

from __future__ import annotations

from typing import Any, Mapping

from envs.errors import EnvConfigError, EnvStartError
from envs.registry import UnknownEnvironmentError, env_info, prepare_env_config
from runtime.errors import UserError
from runtime.job.environment import CHANNEL_TRAIN, JobEnvironment


def job_env_config(env_id: str, env_config: Mapping[str, Any], job: JobEnvironment) -> dict[str, Any]:
    """``env_config`` for ``env_id`` in ``job``: job context for environments that take it, then prepared."""
    try:
        info = env_info(env_id)
    except UnknownEnvironmentError as exc:
        raise UserError(str(exc)) from exc
    config = dict(env_config)
    if info.job_context:
        train = job.channel_dir(CHANNEL_TRAIN)
        if job.has_channel(CHANNEL_TRAIN) or train.is_dir():
            config.setdefault("train_dir", str(train))
        config.setdefault("log_dir", str(job.intermediate_dir))
    try:
        return prepare_env_config(env_id, config)
    except EnvConfigError as exc:
        raise UserError(str(exc)) from exc
    except EnvStartError as exc:
        raise env_start_error(env_id, exc) from exc


def env_start_error(env_id: str, error: Exception) -> UserError:
    """The user error for an environment whose process could not start (:class:`envs.errors.EnvStartError`)."""
    return UserError(f"The environment {env_id} could not start. {error}")
