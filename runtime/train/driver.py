"""The online training driver: resolve -> build the RLlib algorithm -> iterate, report, checkpoint -> export.

Read top to bottom: :func:`train` is the whole loop. SIGTERM (a spot interruption, StopTrainingJob) sets a flag;
the loop saves a checkpoint after the current iteration, or abandons an iteration that does not end within
``SIGTERM_GRACE_S`` and saves what it has, then exits with code 143. A later job in the same tree resumes from the
newest checkpoint, continuing the iteration, step and time counters.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from runtime.config import hyperparameters as hp
from runtime.families import TrainingHooks
from runtime.train.checkpoints import CheckpointManager, TrainingState
from runtime.cluster import ClusterInfo, env_runner_hosts, healthy_env_runners
from runtime.errors import EXIT_SIGTERM, JobInterrupted, UserError
from runtime.export.model_dir import write_model_dir, write_resolved_config
from runtime.export.pipeline import export_serving_models, record_training_video
from runtime.config.hyperparameters import TrainingSpec
from runtime.train.reporting import EpisodeWindow, IterationMetrics, ProgressBar, Reporter, metrics_from_rllib
from runtime.job.environment import JobEnvironment

log = logging.getLogger(__name__)

SIGTERM_GRACE_S = 5.0
"""How long an iteration in flight may run on after SIGTERM before it is abandoned."""


@dataclass(frozen=True)
class TrainResult:
    """How a training job ended."""

    state: TrainingState
    final_metrics: IterationMetrics | None
    stopped_by: str
    checkpoint: Path
    exit_code: int = 0


class _SigtermWatch:
    """Turns SIGTERM into a flag, and into :class:`JobInterrupted` if the iteration in flight runs too long."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_SigtermWatch":
        self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        if not self.requested:
            print("rlrt: SIGTERM received: saving a checkpoint and stopping", file=sys.stderr, flush=True)
        self.requested = True
        signal.setitimer(signal.ITIMER_REAL, self.grace_s)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        raise JobInterrupted("SIGTERM: the iteration in flight was abandoned")

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def stop_reason(spec: TrainingSpec, metrics: IterationMetrics) -> str | None:
    """The first stop criterion ``metrics`` meets (RLlib/Tune semantics: value >= threshold), or None."""
    values = {
        hp.STOP_TRAINING_ITERATION: metrics.training_iteration,
        hp.STOP_TIMESTEPS_TOTAL: metrics.timesteps_total,
        hp.STOP_TIME_TOTAL_S: metrics.time_total_s,
        hp.STOP_EPISODE_REWARD_MEAN: metrics.episode_reward_mean,
    }
    for key, threshold in spec.stop.items():
        value = values.get(key)
        if value is not None and math.isfinite(value) and value >= threshold:
            return f"{key} {value:g} >= {threshold:g}"
    return None


def init_ray(num_cpus: int, num_gpus: int) -> None:
    """Start a local Ray instance sized to the job's machine (or join ``RAY_ADDRESS`` when set)."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=True)
    else:
        # "local": always a fresh instance, never a cluster someone else started on this machine with `ray start`.
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=True)


def train(
    env: JobEnvironment,
    spec: TrainingSpec,
    stream: TextIO | None = None,
    hooks: TrainingHooks | None = None,
    cluster: ClusterInfo | None = None,
) -> TrainResult:
    """Train ``spec`` in the job environment ``env``; returns how it ended (exit code 143 after SIGTERM).

    ``hooks`` extend the loop for an environment family (see :class:`TrainingHooks`). ``cluster``: the multi-host
    Ray cluster this driver is already connected to (see runtime.cluster); where the env runners ran is then printed
    and recorded in ``metadata.json``.
    """
    import ray

    from envs.registry import UnknownEnvironmentError, canonical_env_id
    from runtime.job.env_config import job_env_config
    from runtime.backends.rllib.config import build_algorithm_config, policy_spaces, register_environment

    out = stream or sys.stdout
    hooks = hooks or TrainingHooks()
    try:
        env_id = canonical_env_id(spec.env)
    except UnknownEnvironmentError as exc:
        hooks.close()
        raise UserError(str(exc)) from exc
    try:
        spec = hooks.prepare(spec)
    except BaseException:
        hooks.close()
        raise
    checkpoints = CheckpointManager(env.checkpoint_dir, spec.checkpoint_keep)
    write_resolved_config(env.intermediate_dir, spec)
    env_config = job_env_config(env_id, spec.env_config, env)

    # The configuration is checked before Ray starts, so a rejected one fails in seconds.
    try:
        config = build_algorithm_config(spec, register_environment(env_id), env.num_gpus, env_config, env_id)
        hooks.configure(config)
    except BaseException:
        hooks.close()
        raise
    init_ray(env.num_cpus, env.num_gpus)
    algo = None
    reporter = None
    progress = ProgressBar(spec.stop)
    try:
        try:
            algo = config.build_algo()
        except Exception as exc:  # noqa: BLE001 - an env that fails to build in a runner
            translated = hooks.translate_error(exc)
            if translated is not None:
                raise translated from None
            raise
        state = TrainingState(preset=spec.preset, algorithm=spec.algorithm, env=env_id)
        latest = checkpoints.latest()
        if latest is not None:
            algo.restore_from_path(str(latest))
            state = CheckpointManager.read_state(latest)
            print(
                f"rlrt: resumed from {latest} (iteration {state.training_iteration}, "
                f"{state.timesteps_total} steps)",
                file=out,
                flush=True,
            )
        if cluster is not None:
            placement = json.dumps(env_runner_hosts(algo), sort_keys=True)
            print(f"rlrt: env runners per host: {placement}", file=out, flush=True)
        reporter = Reporter(env.intermediate_dir, env.tensorboard_dir, f"{spec.preset} ({env_id}, {spec.algorithm})", out,
                            coach_lines=hooks.coach_line_per_iteration)
        print(
            f"rlrt: training {spec.algorithm} on {env_id} (preset {spec.preset}); stop when "
            + " or ".join(f"{k} >= {v}" for k, v in spec.stop.items()),
            file=out,
            flush=True,
        )

        def save(current: TrainingState) -> Path:
            return checkpoints.save(lambda folder: algo.save_to_path(str(folder)), current)

        metrics: IterationMetrics | None = None
        episode_window = EpisodeWindow(getattr(algo.config, "metrics_num_episodes_for_smoothing", 100) or 100)
        video_every = int(spec.extras.get(hp.RECORD_VIDEO_EVERY, 0) or 0)
        stopped_by = ""
        last_saved = -1
        last_runners = healthy_env_runners(algo)
        started = time.monotonic()
        time_offset = state.time_total_s
        with _SigtermWatch(SIGTERM_GRACE_S) as sigterm:
            while True:
                if sigterm.requested:
                    stopped_by = "SIGTERM"
                    break
                try:
                    result = algo.train()
                except JobInterrupted:
                    stopped_by = "SIGTERM"
                    break
                except Exception as exc:  # noqa: BLE001 - e.g. a user's reward function failing in a runner
                    translated = hooks.translate_error(exc)
                    if translated is not None:
                        raise translated from None
                    raise
                runners = result.get("env_runners", {}) or {}
                state = TrainingState(
                    training_iteration=state.training_iteration + 1,
                    timesteps_total=state.timesteps_total + int(runners.get("num_env_steps_sampled", 0) or 0),
                    episodes_total=state.episodes_total + int(runners.get("num_episodes", 0) or 0),
                    time_total_s=time_offset + time.monotonic() - started,
                    preset=state.preset,
                    algorithm=state.algorithm,
                    env=state.env,
                )
                metrics = metrics_from_rllib(
                    result, state.training_iteration, state.timesteps_total, state.episodes_total, state.time_total_s,
                    window=episode_window,
                )
                reporter.report(metrics)
                progress.update(metrics)
                hooks.on_iteration(algo, result, state, metrics, out)
                if video_every and state.training_iteration % video_every == 0:
                    video_every = record_training_video(algo, env_id, spec, env.intermediate_dir,
                                                        state.training_iteration, out)
                runners = healthy_env_runners(algo)
                if runners != last_runners:
                    if runners[0] < runners[1]:
                        print(f"rlrt: {runners[0]} of {runners[1]} env runners healthy (one crashed or its host was "
                              "lost); training goes on with the others while RLlib restarts it", file=out, flush=True)
                    elif last_runners[0] < last_runners[1]:
                        print(f"rlrt: all {runners[1]} env runners healthy again", file=out, flush=True)
                    last_runners = runners
                if state.training_iteration % spec.checkpoint_frequency == 0:
                    save(state)
                    last_saved = state.training_iteration
                reason = stop_reason(spec, metrics) or hooks.stop_reason(state, metrics)
                if reason:
                    stopped_by = reason
                    break
            sigterm.disarm()
            state = TrainingState(**{**asdict(state), "time_total_s": time_offset + time.monotonic() - started})
            checkpoint = checkpoints.latest() if last_saved == state.training_iteration else None
            checkpoint = checkpoint or save(state)
        if stopped_by == "SIGTERM":
            print(f"rlrt: stopped by SIGTERM; checkpoint {checkpoint}; a new job in this tree resumes", file=out)
            return TrainResult(state, metrics, stopped_by, checkpoint, EXIT_SIGTERM)
        observation_space, action_space = policy_spaces(algo)
        write_model_dir(
            env.model_dir,
            checkpoint,
            spec,
            observation_space,
            action_space,
            {
                **asdict(state),
                "stopped_by": stopped_by,
                **({"final": asdict(metrics)} if metrics else {}),
                **({"cluster": {"nodes": dict(cluster.nodes), "env_runner_hosts": env_runner_hosts(algo)}}
                   if cluster is not None else {}),
            },
        )
        export_serving_models(env.model_dir, out)
        hooks.on_export(env.model_dir)
        print(f"rlrt: done ({stopped_by}); model in {env.model_dir}", file=out, flush=True)
        return TrainResult(state, metrics, stopped_by, checkpoint)
    finally:
        progress.close()
        if reporter is not None:
            reporter.close()
        if algo is not None:
            algo.stop()
        ray.shutdown()
        hooks.close()
