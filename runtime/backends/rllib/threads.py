"""The job's thread choice (:mod:`runtime.config.threads`) in RLlib's processes.

Three places, because torch reads ``OMP_NUM_THREADS`` when it is imported and a process RLlib starts imports it
before any code of ours runs there:

- the Ray workers' environment (``runtime_env``'s ``env_vars``, :func:`worker_variables`), so an env runner or a
  remote learner, a restarted one too, starts with the env runners' count;
- this process (the driver: it samples when there are no env runners, and holds the learner when ``num_learners``
  is 0), before the algorithm is built;
- once the algorithm is built, each learner and env runner sets its own count (RLlib's ``on_algorithm_init``
  callback): a remote learner's differs from the env runners', and a cluster the job joined already running was
  started without our environment.
"""

from __future__ import annotations

import functools
from typing import Any, TextIO

from runtime.config.threads import Threads, job_threads, thread_variables, use_threads


def worker_variables(threads: Threads | None) -> dict[str, str]:
    """The environment variables the job's Ray workers start with (none without a choice)."""
    return thread_variables(threads.env_runner) if threads is not None else {}


def use_job_threads(config: Any, spec: Any, job: Any, out: TextIO) -> Threads:
    """Apply the threads ``spec`` chose (the rule's for ``config``'s layout when it chose none) to this process and,
    through ``config``'s ``on_algorithm_init`` callback, to the algorithm's learners and env runners; one line says
    the choice. Returns it, for the workers' environment (:func:`worker_variables`)."""
    from ray.rllib.utils import force_list  # heavy: RLlib (~4 s), imported by the session already

    threads = job_threads(spec.threads, spec.config, job.num_cpus, job.num_gpus)
    use_threads(threads.driver)
    callbacks = [
        *force_list(config.callbacks_on_algorithm_init),
        functools.partial(_in_each_process, threads.learner, threads.env_runner),
    ]
    config.callbacks(on_algorithm_init=callbacks)
    print(threads.line(), file=out, flush=True)
    return threads


def _in_each_process(learner: int, env_runner: int, algorithm: Any, **_: Any) -> None:
    """RLlib's ``on_algorithm_init``: the remote env runners (training and evaluation) first, then the learners (a
    local learner is in this process, which then keeps the learner's count)."""
    for group in (algorithm.env_runner_group, getattr(algorithm, "eval_env_runner_group", None)):
        if group is not None:
            group.foreach_env_runner(functools.partial(_use, env_runner), local_env_runner=False)
    algorithm.learner_group.foreach_learner(functools.partial(_use, learner))


def _use(threads: int, _process: Any = None, **_: Any) -> None:
    """Run in a learner or env runner: :func:`runtime.config.threads.use_threads` there."""
    use_threads(threads)
