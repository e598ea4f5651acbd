"""The RLlib training session behind the loop driver's :class:`runtime.contracts.TrainingSession` contract.

Online-specific work happens here, off the driver's path: on one host the job's own Ray starts as a child process
while the configuration is checked (:meth:`runtime.backends.rllib.factory.RLlibBackendFactory.start_early`; a
rejected one stops it) and the session joins it; episode numbers are smoothed over the last 100 episodes (RLlib
1.x semantics), and a change in env-runner health is reported. The driver films ``rollout_actor`` and exports.
What the session learns by building the environment itself is :mod:`runtime.backends.rllib.env_checks`'.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from envs.native_output import without_native_lines
from envs.registry import env_info
from runtime.backends.rllib.algorithm import (
    DISCRETE_ONLY,
    build_algorithm_config,
    check_discrete_actions,
    policy_spaces,
    register_environment,
)
from runtime.backends.rllib.cpus import env_runners_that_fit
from runtime.backends.rllib.env_checks import (
    env_runners_built,
    env_spaces,
    observes_action_mask,
    probe_environment,
    settings_the_actions_take,
)
from runtime.backends.rllib.episode_output import episode_output
from runtime.backends.rllib.finite_values import refuse_non_finite
from runtime.backends.rllib.policy import (
    DEFAULT_MODULE,
    module_ids,
    serving_policy_from_algorithm,
    serving_policy_from_checkpoint,
)
from runtime.backends.rllib.quiet import NATIVE_NOT_ACTIONABLE, quiet_ray_logs
from runtime.backends.rllib.ray_process import LocalRay, init_ray, shutdown_ray
from runtime.backends.rllib.sampling import SETTING, SampleTimeout
from runtime.backends.rllib.threads import use_job_threads, worker_variables
from runtime.backends.rllib.unity_behaviors import running_behaviors, unity_behavior
from runtime.cluster import env_runner_hosts, healthy_env_runners
from runtime.config import hyperparameters as hp
from runtime.contracts import Actor, BackendContext, ModelInfo, Step, TrainingSession
from runtime.errors import UserError
from runtime.evaluate.video import torch_actor
from runtime.backends.rllib.estimates import with_estimates
from runtime.export.policy import ServingModels, serving_model_of
from runtime.job.env_config import job_env_config
from runtime.names import CHECKPOINT_DIR
from runtime.timings import mark
from runtime.train.checkpoints import TrainingState
from runtime.backends.rllib.results import (
    EpisodeWindow,
    evaluated_this_iteration,
    iteration_episodes,
    metrics_from_rllib,
)


WINDOW_FILE = "rlrt_episode_window.json"
"""The episode window's returns and lengths, saved in each checkpoint beside RLlib's own state."""


def _count(value: Any) -> int:
    """An RLlib counter as an int (0 when the result has none, e.g. an iteration that sampled nothing)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if math.isfinite(number) else 0


DEAD_GRACE_S = 120.0
"""How long every env runner may stay dead, beyond RLlib's own ``delay_between_env_runner_restarts_s``, before the
job fails: RLlib restarts a crashed runner after that delay (an iteration with none alive returns at once, so a count
of iterations would fail a job RLlib is about to heal)."""


def _import_what_building_imports() -> None:
    """Import now, while the job's Ray may still be starting, what building the algorithm imports anyway (torch's
    first optimizer imports ``torch._dynamo``: ~0.6 s on 2 cores)."""
    import torch._dynamo  # noqa: F401  # heavy: torch._dynamo, imported by torch.optim.Optimizer on its first use


class RLlibSession(TrainingSession):
    """One RLlib Algorithm, trained iteration by iteration."""

    units = ("iteration", "steps")

    def __init__(self, context: BackendContext) -> None:
        mark("rllib session")
        self.context = context
        spec, job = context.spec, context.job
        early = context.early_start
        self.ray: LocalRay | None = early if isinstance(early, LocalRay) else None
        if context.env_id is None:
            raise UserError(f"{spec.algorithm} trains online and needs an environment: set 'rl.training.env'.")
        self.env_id: str = context.env_id
        env_config = job_env_config(self.env_id, spec.env_config, job)
        self.env_config = env_config
        self.sample_timeout = SampleTimeout(self.env_id, env_config, hp.CONFIG_PREFIX + SETTING in spec.hyperparameters)
        quiet_ray_logs()  # before RLlib's config builder logs (init_ray does it too, later when joining a cluster)
        spec = settings_the_actions_take(spec, self.env_id, env_config, context.out)
        if spec.algorithm in DISCRETE_ONLY and not env_info(self.env_id).multi_agent:
            check_discrete_actions(spec.algorithm, self.env_id, (env_spaces(self.env_id, env_config) or (0, None))[1])
        spec = episode_output(spec, job, context.out)
        action_mask = observes_action_mask(self.env_id, env_config)
        if action_mask:
            custom = spec.config.get("custom_model")
            instead = f", in place of the script's custom model {custom!r}" if custom else ""
            print(
                f"rlrt: {self.env_id}'s observations carry an action_mask: PPO trains RLlib's action-masking "
                f"module{instead} (masked actions are never taken; the exports take the mask)",
                file=context.out,
                flush=True,
            )
        config = build_algorithm_config(
            spec, register_environment(self.env_id), job.num_gpus, env_config, self.env_id, action_mask=action_mask
        )
        context.hooks.configure(config)
        self.algo: Any = None
        _import_what_building_imports()
        threads = use_job_threads(config, spec, job, context.out)
        mark("ray init")
        self.ray = init_ray(job.num_cpus, job.num_gpus, self.ray, worker_variables(threads))
        mark("ray started")
        env_runners_that_fit(config, context.cluster is not None, context.out, env_info(self.env_id).slow_step)
        runner_log = job.intermediate_dir / "env-runner-errors.log"
        try:
            with (
                env_runners_built(
                    self.env_id, env_config, getattr(config, "model_config", None), runner_log, self.close
                ),
                without_native_lines(NATIVE_NOT_ACTIONABLE, fds=(2,)),
            ):
                self.algo = config.build_algo()  # the native lines: Ray's C++ notice as env runners start
        except BaseException:
            self.close()
            raise
        self.dead_since: float | None = None
        self.window = EpisodeWindow(getattr(self.algo.config, "metrics_num_episodes_for_smoothing", 100) or 100)
        self.runners = healthy_env_runners(self.algo)
        if (getattr(config, "model_config", None) or {}).get("use_lstm"):
            print(
                "rlrt: model_config use_lstm trains a recurrent policy, which rlrt's exports cannot serve: this job "
                "keeps its RLlib checkpoint and fails after training; train without use_lstm for a model that "
                "serves",
                file=context.out,
                flush=True,
            )
        if context.cluster is not None:
            placement = json.dumps(env_runner_hosts(self.algo), sort_keys=True)
            print(f"rlrt: env runners per host: {placement}", file=context.out, flush=True)

    def describe(self) -> str:
        return f"{self.context.spec.algorithm} on {self.env_id}"

    def checkpoint_spaces(self) -> tuple[Any, Any]:
        """The policy's observation and action spaces, recorded in each checkpoint."""
        return policy_spaces(self.algo)

    def restore(self, checkpoint: Path) -> None:
        self.algo.restore_from_path(str(checkpoint))
        saved = checkpoint / WINDOW_FILE
        if saved.is_file():  # a checkpoint of an older rlrt has none: the window starts empty
            self.window = EpisodeWindow(self.window.size, json.loads(saved.read_text(encoding="utf-8")))

    def load_weights(self, checkpoint: Path) -> None:
        """Warm start: only the RLModule's weights (learner and env runners), not the algorithm's counters or
        optimizer state."""
        from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE  # heavy: RLlib

        component = f"{COMPONENT_LEARNER_GROUP}/{COMPONENT_LEARNER}/{COMPONENT_RL_MODULE}"
        self.algo.restore_from_path(str(checkpoint / component), component=component)

    def step(self, state: TrainingState, stop_requested: Callable[[], bool]) -> Step:
        result = self.algo.train()
        runners = result.get("env_runners", {}) or {}
        refuse_non_finite(runners)
        iteration = state.training_iteration + 1
        metrics = metrics_from_rllib(
            result,
            iteration,
            state.timesteps_total,
            state.episodes_total,
            state.time_total_s,
            window=self.window,
            evaluated=evaluated_this_iteration(self.algo),
        )
        steps, episodes = _count(runners.get("num_env_steps_sampled")), len(iteration_episodes(runners))
        if not steps and not stop_requested():
            self.sample_timeout.starved(self.algo, iteration, self.context.out)
        elif not state.episodes_total + episodes:
            self.sample_timeout.no_episode(self.algo, iteration, state.timesteps_total + steps, self.context.out)
        self._report_runner_health()
        if not stop_requested():
            self._fail_when_nothing_runs(steps)
        return Step(steps, episodes, metrics, result=result)

    def rollout_actor(self) -> Actor:
        """observation -> action: the current policy, greedy, as served (for the driver's rollout videos)."""
        return torch_actor(serving_policy_from_algorithm(self.algo)[0])

    def _fail_when_nothing_runs(self, steps: int) -> None:
        """An iteration that sampled nothing: the environment is tried here (a gymnasium-registered one), and when it
        fails the job ends naming its error; otherwise, with every env runner dead, the job fails once RLlib has not
        restarted one within its restart delay plus :data:`DEAD_GRACE_S` (its fault-tolerance settings had their
        chance)."""
        healthy, total = self.runners
        if steps or not total or healthy:
            self.dead_since = None
        elif self.dead_since is None:
            self.dead_since = time.monotonic()
        if steps:
            return
        # Only a gymnasium-registered env (a user's, gymnasium's) is tried here: a family's game (Unity, DeepRacer)
        # would start another player beside the runners' while RLlib restarts them.
        probed = env_info(self.env_id).entry_point is None and not env_info(self.env_id).multi_agent
        error = probe_environment(self.env_id, self.env_config) if probed else None
        if error is not None:
            raise UserError(
                f"Nothing was sampled and the env runners died: the environment {self.env_id} fails ({error})."
            )
        delay = float(getattr(self.algo.config, "delay_between_env_runner_restarts_s", 60.0) or 0.0)
        if self.dead_since is not None and time.monotonic() - self.dead_since > delay + DEAD_GRACE_S:
            raise UserError(
                f"Every env runner of {self.env_id} has been dead for "
                f"{time.monotonic() - self.dead_since:.0f} s and nothing was sampled (RLlib did not "
                "restart them); their errors are in the log above."
            )

    def _report_runner_health(self) -> None:
        runners = healthy_env_runners(self.algo)
        if runners == self.runners:
            return
        out = self.context.out
        if runners[0] < runners[1]:
            print(
                f"rlrt: {runners[0]} of {runners[1]} env runners healthy (one crashed or its host was lost); "
                "training goes on with the others while RLlib restarts it",
                file=out,
                flush=True,
            )
        elif self.runners[0] < self.runners[1]:
            print(f"rlrt: all {runners[1]} env runners healthy again", file=out, flush=True)
        self.runners = runners

    def save(self, folder: Path) -> None:
        self.algo.save_to_path(str(folder))
        # The reported numbers are over the last 100 episodes: a resumed job goes on with the same ones.
        (folder / WINDOW_FILE).write_text(json.dumps(list(self.window.episodes)), encoding="utf-8")

    def finish(self) -> tuple[ModelInfo, Mapping[str, Any]]:
        observation_space, action_space = policy_spaces(self.algo)
        cluster = self.context.cluster
        extra = (
            {"cluster": {"nodes": dict(cluster.nodes), "env_runner_hosts": env_runner_hosts(self.algo)}}
            if cluster is not None
            else {}
        )
        behaviors = running_behaviors(self.algo)  # names mlagents/<Behavior>.onnx
        unity = {"unity_behaviors": behaviors} if behaviors else {}
        return ModelInfo("rllib", observation_space, action_space, unity), extra

    def serving_model(self, model_dir: Path) -> ServingModels:
        """The policy rebuilt from the model folder's checkpoint, as ``rlrt export`` rebuilds it."""
        return serving_model_from_checkpoint(model_dir / CHECKPOINT_DIR)

    def close(self) -> None:
        if self.algo is not None:
            self.algo.stop()
        shutdown_ray(self.ray)


def serving_model_from_checkpoint(checkpoint: Path) -> ServingModels:
    """The :class:`runtime.export.policy.ServingModel` of an RLlib checkpoint folder; a multi-agent checkpoint's:
    one per policy id."""
    ids = module_ids(checkpoint)
    if ids == [DEFAULT_MODULE]:
        return with_estimates(
            replace(
                serving_model_of(*serving_policy_from_checkpoint(checkpoint)),
                unity=unity_behavior(checkpoint.parent, None),
            )
        )
    return {
        module_id: replace(
            serving_model_of(*serving_policy_from_checkpoint(checkpoint, module_id)),
            unity=unity_behavior(checkpoint.parent, module_id),
        )
        for module_id in ids
    }
