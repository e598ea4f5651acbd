"""Jobs: where a command finds its ``/opt/ml`` tree, and the training job from hyperparameters to model."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.cluster import ClusterPlan, describe_plan, head_cluster, plan_cluster, run_worker
from runtime.errors import EXIT_SIGTERM, JobInterrupted, run_job
from runtime.config.presets import DEFAULT_PRESET
from runtime.job.environment import BASE_DIR_ENV, DEFAULT_BASE_DIR, JobEnvironment, load_environment, prepare_local_tree

log = logging.getLogger(__name__)

LOCAL_JOBS_DIR = Path("rlrt-jobs")


def find_base_dir(base_dir: Path | None, preset_hint: str) -> tuple[Path, bool]:
    """Where this job's tree is, and whether it is a local tree we create (not one SageMaker or docker made).

    Order: an explicit ``--base-dir``; ``$SAGEMAKER_BASE_DIR``; ``/opt/ml`` when it holds a job configuration
    (SageMaker, ``docker run``); else a new folder ``./rlrt-jobs/<preset>-<time>`` laid out like ``/opt/ml``.
    """
    if base_dir is not None:
        return base_dir.resolve(), not (base_dir / "input" / "config" / "resourceconfig.json").is_file()
    if os.environ.get(BASE_DIR_ENV):
        path = Path(os.environ[BASE_DIR_ENV]).resolve()
        return path, not (path / "input" / "config" / "resourceconfig.json").is_file()
    if (DEFAULT_BASE_DIR / "input" / "config" / "hyperparameters.json").is_file():
        return DEFAULT_BASE_DIR, False
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (LOCAL_JOBS_DIR / f"{preset_hint}-{stamp}").resolve(), True


def _validator(algorithm: str) -> Any:
    from runtime.backends.d3rlpy.config import D3rlpyValidator, is_offline_algorithm

    if is_offline_algorithm(algorithm):
        return D3rlpyValidator()
    from runtime.backends.rllib.config import RLlibValidator

    return RLlibValidator()


def run_training_job(
    base_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    default_preset: str = DEFAULT_PRESET,
) -> int:
    """Run one training job end to end through the single failure path; returns the process exit code.

    ``overrides`` (from the command line) are layered on top of ``hyperparameters.json``; in a local tree they are
    written into it, so a rerun in the same tree trains (and resumes) the same configuration.
    """
    overrides = dict(overrides or {})
    preset_hint = str(overrides.get(hp.PRESET, default_preset))
    root, local = find_base_dir(base_dir, preset_hint)
    failure_file = lambda: root / "output" / "failure"  # noqa: E731

    def job() -> int:
        from runtime.backends.d3rlpy.config import is_offline_algorithm
        from runtime.train.driver import train

        if local:
            prepare_local_tree(root, overrides)
            print(f"rlrt: local job tree (laid out like /opt/ml): {root}", flush=True)
        env = load_environment(root)
        failure = env.failure_file
        if failure.exists():
            failure.unlink()  # a stale failure from an earlier attempt in this tree
        hyperparameters = {**env.hyperparameters, **({} if local else overrides)}
        from runtime.families.deepracer.training import hooks_for, rewrite_hyperparameters

        spec = hp.resolve(hyperparameters, _validator, default_preset=default_preset, num_cpus=env.num_cpus,
                          rewrite=rewrite_hyperparameters)
        if is_offline_algorithm(spec.algorithm):
            if not env.is_master:
                print("rlrt: offline training runs on the first host; this host has nothing to do", flush=True)
                return 0
            from runtime.backends.d3rlpy.training import train_offline

            result = train_offline(env, spec)
        else:
            plan = plan_cluster(env)
            if plan.multi_node:
                return _multi_node_training(env, plan, hyperparameters, default_preset)
            result = train(env, spec, hooks=hooks_for(env, spec))
        if local and result.exit_code == 0:
            print(
                "rlrt: outputs:\n"
                f"  model (checkpoint, config, metadata): {env.model_dir}\n"
                f"  checkpoints: {env.checkpoint_dir}\n"
                f"  progress.csv, learning_curve.png, TensorBoard: {env.intermediate_dir}\n"
                f"  TensorBoard (SageMaker's path): {env.tensorboard_dir}",
                flush=True,
            )
        return result.exit_code

    return run_job(job, failure_file)


def _multi_node_training(
    env: JobEnvironment, plan: ClusterPlan, hyperparameters: Mapping[str, Any], default_preset: str
) -> int:
    """A host of a multi-host job: the head forms the cluster and trains; the others serve as Ray worker nodes.

    Every host has already checked the hyperparameters, so a bad one fails each host at once. The env-runner
    count defaults to the CPUs Ray sees in the formed cluster (see runtime.cluster).
    """
    from runtime.train.driver import train

    print(f"rlrt: {describe_plan(plan)}", flush=True)
    if not plan.is_head:
        return run_worker(plan, env)
    try:
        with head_cluster(plan, env) as cluster:
            from runtime.families.deepracer.training import hooks_for, rewrite_hyperparameters

            spec = hp.resolve(hyperparameters, _validator, default_preset=default_preset, num_cpus=cluster.cpus + 1,
                              rewrite=rewrite_hyperparameters)
            return train(env, spec, hooks=hooks_for(env, spec), cluster=cluster).exit_code
    except JobInterrupted:
        print("rlrt: SIGTERM before training started; the cluster was stopped", flush=True)
        return EXIT_SIGTERM
