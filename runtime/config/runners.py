"""How a job's env runners are laid out when neither its preset nor its hyperparameters say: how many, and how
their envs are stepped."""

from __future__ import annotations

from typing import Any, Mapping

from envs.registry import UnknownEnvironmentError, env_info
from envs.vector import has_native_vector

VECTORIZE_MODE = "gym_env_vectorize_mode"
NATIVE_VECTORS = "vector_entry_point"


def runner_defaults(
    config: Mapping[str, Any], env_id: str, env_config: Mapping[str, Any], num_cpus: int | None
) -> dict[str, Any]:
    """RLlib's env-runner settings ``config`` leaves out, chosen for ``env_id`` on ``num_cpus`` CPUs (None: not
    known here): ``num_env_runners`` (:func:`default_env_runners`) and ``gym_env_vectorize_mode``:
    ``vector_entry_point`` for an environment with its own vectorised class (:mod:`envs.vector`: CartPole steps its
    32 copies in one NumPy call; a CartPole job samples ~15 % more env steps a second, bench/results/history.md), else
    RLlib's default (``sync``: the copies stepped one by one)."""
    defaults: dict[str, Any] = {}
    if num_cpus is not None and "num_env_runners" not in config:
        defaults["num_env_runners"] = default_env_runners(num_cpus, env_id)
    if VECTORIZE_MODE not in config and has_native_vector(env_id, env_config):
        defaults[VECTORIZE_MODE] = NATIVE_VECTORS
    return defaults


def default_env_runners(num_cpus: int, env_id: str) -> int:
    """The env-runner count when neither the preset nor the hyperparameters give one: ``num_cpus - 1`` (one CPU stays
    with the driver and the learner, as in the seeds). On two CPUs or fewer that one runner would sample while the
    learner waits (PPO samples, then learns), so the driver samples itself, at the same steps/s without starting a
    second process (~3 s of start-up; bench/results/history.md) -- except for an environment that drives a game process
    (Unity): it keeps its own runner, which RLlib restarts when the game dies and whose samples have a timeout; and
    an environment whose step is slow (a physics engine: PyBullet's robots), which gets one runner per CPU: the
    driver only waits while they sample (Hopper on 2 CPUs: 1,050 env steps/s with 2 runners of 4 envs, against 860
    with the driver sampling 8)."""
    if num_cpus > 2:
        return num_cpus - 1
    try:
        info = env_info(env_id)
    except UnknownEnvironmentError:
        return 0  # reported by the job setup
    if info.slow_step:
        return num_cpus if num_cpus == 2 else 0
    return max(0, num_cpus - 1) if info.job_context else 0
