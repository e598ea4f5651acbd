"""The RLlib training session behind the loop driver's :class:`runtime.train.backend.Backend` interface.

<<<<<<< HEAD
Online-specific work happens here, off the driver's path: on one host Ray starts in the background while the
configuration is checked (:meth:`RLlibBackendFactory.start_early`; a rejected one shuts it down), episode numbers are smoothed over the last 100 episodes (RLlib 1.x semantics),
rollout videos are recorded every ``record_video_every`` iterations, and a change in env-runner health is reported.
=======
Online-specific work happens here, off the driver's path: Ray is started once the configuration has been checked
(a rejected one fails in seconds), episode numbers are smoothed over the last 100 episodes (RLlib 1.x semantics),
and a change in env-runner health is reported. The driver films the policy :meth:`RLlibSession.rollout_actor` gives
(runtime.train.videos).
>>>>>>> notebooks-keys
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from runtime.backends.rllib.sampling import SETTING, SampleTimeout
from runtime.config import hyperparameters as hp
from runtime.train.backend import BackendContext, ModelInfo, Step
from runtime.train.checkpoints import TrainingState
from runtime.timings import mark


def _count(value: Any) -> int:
    """An RLlib counter as an int (0 when the result has none, e.g. an iteration that sampled nothing)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if math.isfinite(number) else 0


def explain_env_failure(env_id: str, env_config: Mapping[str, Any], model_config: Mapping[str, Any] | None = None) -> None:
    """After RLlib failed to build its env runners: build the environment once here, and when it cannot start (a
    game that exits at once or never answers) raise the :class:`UserError` that names it. RLlib itself reports only
    that no env runner came up (``IndexError: list index out of range``); its runners' errors are in their logs.
    Also a model setting the environment's actions cannot take: ``free_log_std`` needs continuous (Box) actions."""
    from envs.errors import EnvConfigError, EnvStartError
    from envs.registry import make_env
    from runtime.errors import UserError
    from runtime.job.env_config import env_start_error

    try:
        env = make_env(env_id, dict(env_config))
    except EnvConfigError as exc:
        raise UserError(str(exc)) from exc
    except EnvStartError as exc:
        raise env_start_error(env_id, exc) from exc
    except Exception:  # noqa: BLE001 - not the environment's fault: the original error stands
        return
    action_space = env.action_space
    env.close()
    if (model_config or {}).get("free_log_std") and type(action_space).__name__ != "Box":
        raise UserError(f"'rl.training.config.model.free_log_std' (RLlib 2.x: model_config.free_log_std) needs "
                        f"continuous (Box) actions; {env_id} has {action_space}. Remove it for this environment.")


class RLlibSession:
    """One RLlib Algorithm, trained iteration by iteration."""

    units = ("iteration", "steps")

    def __init__(self, context: BackendContext) -> None:
        mark("rllib session")
        from runtime.backends.rllib.algorithm import (build_algorithm_config, init_ray, register_environment,
                                                      wait_for_early_start)
        from runtime.backends.rllib.quiet import quiet_ray_logs
        from runtime.cluster import env_runner_hosts, healthy_env_runners
        from runtime.job.env_config import job_env_config
        from runtime.train.reporting import EpisodeWindow

        self.context = context
        spec, job = context.spec, context.job
        if context.env_id is None:
            from runtime.errors import UserError

            raise UserError(f"{spec.algorithm} trains online and needs an environment: set 'rl.training.env'.")
        self.env_id: str = context.env_id
        env_config = job_env_config(self.env_id, spec.env_config, job)
        self.sample_timeout = SampleTimeout(self.env_id, env_config, hp.CONFIG_PREFIX + SETTING in spec.hyperparameters)
        wait_for_early_start()
        quiet_ray_logs()  # before RLlib's config builder logs (init_ray does it too, later when joining a cluster)
        config = build_algorithm_config(spec, register_environment(self.env_id), job.num_gpus, env_config, self.env_id)
        context.hooks.configure(config)
        self.algo: Any = None
        mark("ray init")
        init_ray(job.num_cpus, job.num_gpus)
        mark("ray started")
        try:
            self.algo = config.build_algo()
        except BaseException as exc:
            self.close()
            if isinstance(exc, Exception):
                explain_env_failure(self.env_id, env_config, getattr(config, "model_config", None))
            raise
        self.window = EpisodeWindow(getattr(self.algo.config, "metrics_num_episodes_for_smoothing", 100) or 100)
        self._healthy = healthy_env_runners
        self.runners = healthy_env_runners(self.algo)
        if context.cluster is not None:
            placement = json.dumps(env_runner_hosts(self.algo), sort_keys=True)
            print(f"rlrt: env runners per host: {placement}", file=context.out, flush=True)

    def describe(self) -> str:
        return f"{self.context.spec.algorithm} on {self.env_id}"

    def checkpoint_spaces(self) -> tuple[Any, Any]:
        """The policy's observation and action spaces, recorded in each checkpoint."""
        from runtime.backends.rllib.algorithm import policy_spaces

        return policy_spaces(self.algo)

    def restore(self, checkpoint: Path) -> None:
        self.algo.restore_from_path(str(checkpoint))

    def load_weights(self, checkpoint: Path) -> None:
        """Warm start: only the RLModule's weights (learner and env runners), not the algorithm's counters or
        optimizer state."""
        from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE

        component = f"{COMPONENT_LEARNER_GROUP}/{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}"
        self.algo.restore_from_path(str(checkpoint / component), component=component)

    def step(self, state: TrainingState, stop_requested: Any) -> Step:
        from runtime.train.reporting import metrics_from_rllib

        result = self.algo.train()
        runners = result.get("env_runners", {}) or {}
        iteration = state.training_iteration + 1
        metrics = metrics_from_rllib(result, iteration, state.timesteps_total, state.episodes_total, state.time_total_s,
                                     window=self.window)
        steps = _count(runners.get("num_env_steps_sampled"))
        if not steps and not stop_requested():
            self.sample_timeout.starved(self.algo, iteration, self.context.out)
        self._report_runner_health()
        return Step(steps, _count(runners.get("num_episodes")), metrics, result=result)

    def rollout_actor(self) -> Any:
        """observation -> action: the current policy, greedy, as served (for the driver's rollout videos)."""
        from runtime.backends.rllib.policy import serving_policy_from_algorithm
        from runtime.evaluate.video import torch_actor

        return torch_actor(serving_policy_from_algorithm(self.algo)[0])

    def _report_runner_health(self) -> None:
        runners = self._healthy(self.algo)
        if runners == self.runners:
            return
        out = self.context.out
        if runners[0] < runners[1]:
            print(f"rlrt: {runners[0]} of {runners[1]} env runners healthy (one crashed or its host was lost); "
                  "training goes on with the others while RLlib restarts it", file=out, flush=True)
        elif self.runners[0] < self.runners[1]:
            print(f"rlrt: all {runners[1]} env runners healthy again", file=out, flush=True)
        self.runners = runners

    def save(self, folder: Path) -> None:
        self.algo.save_to_path(str(folder))

    def finish(self) -> tuple[ModelInfo, Mapping[str, Any]]:
        from runtime.backends.rllib.algorithm import policy_spaces
        from runtime.cluster import env_runner_hosts

        observation_space, action_space = policy_spaces(self.algo)
        cluster = self.context.cluster
        extra = ({"cluster": {"nodes": dict(cluster.nodes), "env_runner_hosts": env_runner_hosts(self.algo)}}
                 if cluster is not None else {})
        return ModelInfo("rllib", observation_space, action_space), extra

    def export(self, model_dir: Path, state: TrainingState) -> None:
        from runtime.export.pipeline import export_serving_models

        export_serving_models(model_dir, self.context.out)

    def close(self) -> None:
        from runtime.backends.rllib.algorithm import shutdown_ray

        if self.algo is not None:
            self.algo.stop()
        shutdown_ray()


class RLlibBackendFactory:
    """``BACKEND`` of :mod:`runtime.backends.rllib` (see :mod:`runtime.backends`)."""

    name = "rllib"
    distributed = True
    """Trains across the hosts of a multi-host job (a Ray cluster)."""

    def claims(self, algorithm: str) -> bool:
        return True  # RLlib's own check names the closest algorithm for a name it does not know

    def validator(self) -> Any:
        from runtime.backends.rllib.config import RLlibValidator

        return RLlibValidator()

    def create(self, context: BackendContext) -> RLlibSession:
        return RLlibSession(context)

    def start_early(self, num_cpus: int, num_gpus: int) -> Any:
        """Start Ray in the background before the spec is resolved (importing RLlib and starting Ray's processes
        overlap; the session waits for it). Returns a handle whose ``cancel()`` stops it again; None when the job
        joins the cluster ``RAY_ADDRESS`` names (quick, and a cluster that is not there is then reported once)."""
        import os

        from runtime.backends.rllib.algorithm import EarlyRayStart

        return None if os.environ.get("RAY_ADDRESS") else EarlyRayStart(num_cpus, num_gpus)

    def serving_model(self, model_dir: Path) -> Any:
        """The :class:`runtime.export.policy.ServingModel` of a model folder's RLlib checkpoint (``rlrt export``)."""
        from runtime.backends.rllib.policy import serving_policy_from_checkpoint
        from runtime.export.policy import serving_model_of
        from runtime.names import CHECKPOINT_DIR

        return serving_model_of(*serving_policy_from_checkpoint(model_dir / CHECKPOINT_DIR))


BACKEND = RLlibBackendFactory()
