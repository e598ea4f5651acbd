"""How many env runners a job gets when neither its preset nor its hyperparameters say."""

from __future__ import annotations

from envs.registry import UnknownEnvironmentError, env_info


def default_env_runners(num_cpus: int, env_id: str) -> int:
    """The env-runner count when neither the preset nor the hyperparameters give one: ``num_cpus - 1`` (one CPU stays
    with the driver and the learner, as in the seeds). On two CPUs or fewer that one runner would sample while the
    learner waits (PPO samples, then learns), so the driver samples itself, at the same steps/s without starting a
    second process (~3 s of start-up; bench/RESULTS.md) -- except for an environment that drives a game process
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
