"""The env runners a job's Ray can run: each is an actor holding ``num_cpus_per_env_runner`` CPUs, and RLlib waits
without end for actors Ray cannot place."""

from __future__ import annotations

from typing import Any, TextIO

from runtime.errors import UserError


def env_runners_that_fit(config: Any, on_a_cluster: bool, out: TextIO, slow_step: bool = False) -> None:
    """Cap ``config``'s env runners at what Ray's CPUs can run, with one line: each runner is an actor that holds
    ``num_cpus_per_env_runner`` CPUs, and RLlib waits without end for actors Ray cannot place (the seeds'
    ``num_workers: 4`` on a 2-CPU machine printed nothing for minutes). On one host a CPU stays with the driver and
    the learner, as the default count keeps it, unless the env's step is slow (``slow_step``: every CPU samples while
    the learner waits); a multi-host head has already held that CPU back from Ray."""
    import ray  # heavy: Ray and RLlib (~4 s)

    asked = int(config.num_env_runners or 0)
    per_runner = float(config.num_cpus_per_env_runner or 0)
    if asked <= 0 or per_runner <= 0:
        return
    cpus = float(ray.cluster_resources().get("CPU", 0))
    if per_runner > cpus:
        raise UserError(
            f"rl.training.config.num_cpus_per_env_runner (RLlib 1.x num_cpus_per_worker) is "
            f"{per_runner:g}, but Ray has {cpus:g} CPUs here: no env runner could ever start (RLlib would "
            f"wait for one without end). Give at most {cpus:g}, or train on an instance with more CPUs."
        )
    fit = max(1, int(cpus // per_runner) - (0 if on_a_cluster or slow_step else 1))
    if asked <= fit:
        return
    config.env_runners(num_env_runners=fit)
    print(
        f"rlrt: {asked} env runners asked (rl.training.config.num_env_runners, RLlib 1.x num_workers), but Ray has "
        f"{cpus:g} CPUs here{'' if on_a_cluster else ', one of them for the learner'} and each runner takes "
        f"{per_runner:g}: training with {fit} (more would wait for CPUs without end)",
        file=out,
        flush=True,
    )
