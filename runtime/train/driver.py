"""The one training loop, for every backend: resolve -> build -> iterate, report, checkpoint -> model folder -> export
-> final evaluation.

Read top to bottom: :func:`train` is the whole loop. The backend's session (RLlib online, d3rlpy offline; the
contract is :class:`runtime.contracts.TrainingSession`) runs one iteration per ``step``; the driver owns everything
around it: the family hooks, resume from the newest intact checkpoint (continuing the iteration, step and time
counters), the metric lines, the checkpoint cadence, the stop rule, SIGTERM (a spot interruption, StopTrainingJob:
the loop saves a checkpoint after the current iteration, or abandons an iteration that does not end within
``SIGTERM_GRACE_S``, then exits with code 143; SIGINT, Ctrl-C, the same with 130), the model folder, the export (THE
export pipeline) and the final evaluation of the exported policy (THE evaluator), when the session asks for one.
How the model folder is written, all or nothing, is :mod:`runtime.train.model_folder`'s.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping, TextIO

from runtime.collector import start_up
from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.contracts import BackendFactory, EarlyStart, Plugins, TrainingSession
from runtime.errors import JobInterrupted, UserError
from runtime.evaluate.evaluator import evaluate_policy
from runtime.job.environment import JobEnvironment
from runtime.names import DEFAULT_BASE_DIR
from runtime.stop_signals import DONE, FINISH, HOLD, POLL, STOPS
from runtime.timings import mark
from runtime.train.checkpoints import CheckpointManager, TrainingState, config_changes
from runtime.train.model_folder import kept_checkpoint, model_after_stop, model_is_current, write_model_folder
from runtime.train.progress import ProgressBar, SlowStartNotice
from runtime.train.reporting import STOP_ALIASES, IterationMetrics, Reporter, console_mode
from runtime.train import tracking
from runtime.train.session_setup import build_session, recorded_spaces
from runtime.train.videos import RolloutVideos
from runtime.train.warm_start import warm_start


@dataclass(frozen=True)
class TrainResult:
    """How a training job ended."""

    state: TrainingState
    final_metrics: IterationMetrics | None
    stopped_by: str
    checkpoint: Path
    exit_code: int = 0


def stop_reason(stop: Mapping[str, Any], metrics: IterationMetrics) -> str | None:
    """The first stop criterion ``metrics`` meets (RLlib/Tune semantics: value >= threshold), or None.

    A missing or NaN value (no episode has ended yet) meets nothing.
    """
    values = {
        hp.STOP_TRAINING_ITERATION: metrics.training_iteration,
        hp.STOP_TIMESTEPS_TOTAL: metrics.timesteps_total,
        hp.STOP_TIME_TOTAL_S: metrics.time_total_s,
        hp.STOP_EPISODE_REWARD_MEAN: metrics.episode_reward_mean,
        "episodes_total": metrics.episodes_total,
        "episode_reward_max": metrics.episode_reward_max,
        "episode_reward_min": metrics.episode_reward_min,
        "episode_len_mean": metrics.episode_len_mean,
    }
    for key, threshold in stop.items():
        value = values.get(STOP_ALIASES.get(key, key))
        if value is not None and math.isfinite(value) and value >= threshold:
            return f"{key} {value:g} >= {threshold:g}"
    return None


def _counters(state: TrainingState) -> IterationMetrics:
    """A resumed job's counters as metrics for the stop rule (no episode numbers: those stops are not met)."""
    return IterationMetrics(
        state.training_iteration,
        state.timesteps_total,
        state.time_total_s,
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        state.episodes_total,
        math.nan,
    )


def train(
    job: JobEnvironment,
    spec: TrainingSpec,
    plugins: Plugins,
    stream: TextIO | None = None,
    cluster: Any = None,
    early_start: EarlyStart | None = None,
    console: str | None = None,
    backend: BackendFactory | None = None,
) -> TrainResult:
    """Train ``spec`` in the job ``job`` with the backend of ``plugins`` that trains its algorithm; returns how it
    ended. SIGTERM or SIGINT (:mod:`runtime.stop_signals`) raises :class:`JobInterrupted` once the job has kept what
    it can (a checkpoint; the model folder from it), which the failure path turns into exit 143 or 130.

    ``cluster``: the multi-host Ray cluster this driver is already connected to (see runtime.cluster);
    ``early_start``: what the backend started while the spec resolved (handed to its session); ``console``: what
    stdout shows of each iteration (``rlrt train --quiet``, ``--verbose``; None: :func:`console_mode` decides);
    ``backend``: the one the job's plan chose for ``spec`` (:mod:`runtime.job.plan`; None: chosen here, for a caller
    without a plan).
    """
    with STOPS.handling():
        chosen = backend if backend is not None else plugins.training_backend(spec)
        return _train(job, spec, plugins, chosen, stream or sys.stdout, cluster, early_start, console)


def _train(
    job: JobEnvironment,
    spec: TrainingSpec,
    plugins: Plugins,
    factory: BackendFactory,
    out: TextIO,
    cluster: Any,
    early_start: EarlyStart | None,
    console: str | None,
) -> TrainResult:
    hooks = plugins.training_hooks(job, spec)
    backend: TrainingSession | None = None
    reporter: Reporter | None = None
    progress = ProgressBar(spec.stop)
    try:
        mark("build")
        with start_up():  # building imports what the first use needs (torch's optimizer: torch._dynamo)
            backend, spec, env_id = build_session(job, spec, factory, hooks, out, cluster, early_start)
        STOPS.check()  # ray.init replaced the handler
        mark("built")
        checkpoints = CheckpointManager(job.checkpoint_dir, spec.checkpoint_keep, config=spec.config)
        observation_space, action_space = recorded_spaces(backend)
        state = TrainingState(
            preset=spec.preset,
            algorithm=spec.algorithm,
            env=spec.env,
            observation_space=observation_space,
            action_space=action_space,
        )
        resumed = checkpoints.resume(backend.restore, state, lambda line: print(line, file=out, flush=True))
        stopped_by = ""
        last_saved = -1
        if resumed is not None:
            latest, stored = resumed
            state = replace(stored, observation_space=state.observation_space, action_space=state.action_space)
            last_saved = state.training_iteration
            iteration, steps = backend.units
            print(
                f"rlrt: resumed from {latest} ({iteration} {state.training_iteration}, "
                f"{state.timesteps_total} {steps})",
                file=out,
                flush=True,
            )
            stopped_by = stop_reason(spec.stop, _counters(state)) or ""
            spec = _settings_on_resume(spec, checkpoints.stored_config(latest), stopped_by, out)
            if stopped_by and model_is_current(job.model_dir, state):
                print(
                    f"rlrt: already done ({stopped_by}): nothing to train; {job.model_dir} already holds the "
                    f"model of {latest.name} and is left as it is",
                    file=out,
                    flush=True,
                )
                return TrainResult(state, None, stopped_by, latest)
            if stopped_by:
                print(
                    f"rlrt: already done ({stopped_by}): nothing to train; the model folder is written from "
                    f"{latest.name}",
                    file=out,
                    flush=True,
                )
        else:
            warm_start(backend, job, spec, hooks, state, out)
        # In /opt/ml (SageMaker, docker run) the events also go to output/intermediate, uploaded with the job's
        # output; elsewhere one copy, so that `tensorboard --logdir rlrt-jobs` lists each job once.
        container = job.base_dir == DEFAULT_BASE_DIR
        reporter = Reporter(
            job.intermediate_dir,
            job.tensorboard_dir,
            f"{backend.describe()} (preset {spec.preset})",
            out,
            coach_lines=hooks.coach_line_per_iteration,
            pass_bar=spec.pass_bar,
            tensorboard_copy=container,
            stop=spec.stop,
            units=backend.units,
            resumed_at=(state.training_iteration, state.timesteps_total) if resumed else None,
            console=console_mode(console, out, container=container),
            kept=lambda: kept_checkpoint(last) if (last := checkpoints.latest()) else "",
            tracker=start_tracking(job, spec, container, out),
        )
        print(
            f"rlrt: training {backend.describe()} (preset {spec.preset}); stop when "
            + " or ".join(f"{k} >= {v:g}" for k, v in spec.stop.items()),
            file=out,
            flush=True,
        )

        def save(current: TrainingState) -> Path:
            with STOPS.phase_of("saving a checkpoint", HOLD):  # never half written
                return checkpoints.save(backend.save, current)

        metrics: IterationMetrics | None = None
        videos = RolloutVideos(spec, env_id, job.intermediate_dir, out)
        started = time.monotonic()
        time_offset = state.time_total_s
        notice = SlowStartNotice(out, backend.units[0], enabled=not progress.shown and not stopped_by)
        with STOPS.phase_of("training", POLL) as stops:
            while not stops.requested and not stopped_by:
                try:
                    with progress.while_running():
                        step = backend.step(state, stops)
                except JobInterrupted:
                    break
                except Exception as exc:  # e.g. a user's reward function failing in a runner
                    translated = hooks.translate_error(exc)
                    if translated is not None:
                        raise translated from None
                    raise
                finally:
                    notice.cancel()
                state = replace(
                    state,
                    training_iteration=state.training_iteration + 1,
                    timesteps_total=state.timesteps_total + step.env_steps,
                    episodes_total=state.episodes_total + step.episodes,
                    time_total_s=time_offset + time.monotonic() - started,
                )
                if step.interrupted:  # cut short by a signal: its updates are saved, nothing is reported
                    break
                mark(f"iteration {state.training_iteration}")
                metrics = replace(
                    step.metrics,
                    training_iteration=state.training_iteration,
                    timesteps_total=state.timesteps_total,
                    episodes_total=state.episodes_total,
                    time_total_s=state.time_total_s,
                )
                reporter.report(metrics, step.lines)  # the bar is off the screen between iterations: clean lines
                progress.update(metrics)
                hooks.on_iteration(step.result, state, metrics, out)
                if state.training_iteration % spec.checkpoint_frequency == 0:
                    save(state)
                    last_saved = state.training_iteration
                if not stops.requested:  # a spot interruption saves first; no video
                    try:
                        videos.after_iteration(backend, state.training_iteration)
                    except JobInterrupted:  # a signal, and the video ran past the grace period
                        break
                stopped_by = stop_reason(spec.stop, metrics) or hooks.stop_reason(state, metrics) or ""
                if stopped_by:
                    break
            notice.cancel()  # a signal before the first iteration
            stops.disarm()
            state = replace(state, time_total_s=time_offset + time.monotonic() - started)
            checkpoint = checkpoints.latest() if last_saved == state.training_iteration else None
            checkpoint = checkpoint or save(state)
            mark("loop done")
            if stops.requested:
                raise stops.interrupted(model_after_stop(job, backend, hooks, checkpoint, spec, state, metrics, out))
        if state.timesteps_total <= 0:
            raise UserError(
                f"No training happened: {state.training_iteration} iteration(s) took 0 "
                f"{backend.units[1]}, so there is no trained model to write. The log above says why "
                "(an environment or env runner that failed); checkpoints/ keeps what there was."
            )
        with STOPS.phase_of("writing the model folder", FINISH) as stops:  # from the loop's end: a signal is held
            info, extra = backend.finish()
            training = {
                **asdict(state),
                "stopped_by": stopped_by,
                **extra,
                **({"final": asdict(metrics)} if metrics else {}),
            }
            write_model_folder(job, backend, hooks, checkpoint, spec, info, training, out)
            if stops.requested:
                raise stops.interrupted(
                    f"{kept_checkpoint(checkpoint)} {job.model_dir} is complete (no final evaluation)."
                )
        complete = f"{kept_checkpoint(checkpoint)} The model in {job.model_dir} is complete"  # what a stop keeps
        # Filmed beside the reporter's close: after the export's checks (a stochastic policy draws from torch's one
        # random generator) and before any environment is made or closed (PyBullet's share process-wide state).
        # The stage is named before the film starts: a signal as it starts is one during the final video.
        STOPS.reached("the final video", f"{complete}; the final video was not written.")
        videos.start_final(backend, state.training_iteration)
        if not videos.filming:
            STOPS.reached("closing the training logs", f"{complete}.")
        with STOPS.phase_of("closing the training logs", HOLD):  # never half closed: a stop acts once they are
            reporter.close(model_dir=job.model_dir)
        reporter = None  # closed: not again below
        mark("reporter closed")
        videos.wait_final(f"{complete}; the final video was not written.")
        STOPS.reached("the final evaluation", f"{complete}; the final evaluation was not written.")
        with STOPS.phase_of("the final evaluation"):
            _final_evaluation(backend, env_id, state.training_iteration, job, out, spec)
        STOPS.reached("closing down after the job finished", f"The model in {job.model_dir} is complete.", DONE)
        print(f"rlrt: done ({stopped_by}); model in {job.model_dir}", file=out, flush=True)
        return TrainResult(state, metrics, stopped_by, checkpoint)
    finally:
        progress.close()
        if reporter is not None:  # an error on the way: closing must not hide it
            reporter.close(raise_errors=False)
            mark("reporter closed")
        if backend is not None:
            backend.close()
            mark("backend closed")
        hooks.close()


def start_tracking(job: JobEnvironment, spec: TrainingSpec, container: bool, out: TextIO) -> tracking.Tracker | None:
    """The job's tracked run when the hyperparameter ``track`` asks for one (:mod:`runtime.train.tracking`)."""
    kind = spec.extras.get(hp.TRACK)
    if kind is None:
        return None
    name = os.environ.get("TRAINING_JOB_NAME", spec.preset) if container else job.base_dir.name
    params = tracking.settings_as_params(spec.preset, spec.algorithm, spec.env, spec.seed, spec.config, spec.stop)
    tags = {"rlrt.tree": str(job.base_dir), "rlrt.preset": spec.preset}
    return tracking.start(str(kind), name, params, tags, job.base_dir, container, out)


def _settings_on_resume(
    spec: TrainingSpec, stored: Mapping[str, Any] | None, stopped_by: str, out: TextIO
) -> TrainingSpec:
    """Say how this job's settings differ from the resumed checkpoint's. A job that trains applies them from here
    on; one whose stop is already met trains no step, so its model keeps the checkpoint's settings (returned)."""
    changed = config_changes(stored, spec.config)
    if not changed:
        return spec
    if not stopped_by:
        print(
            "rlrt: this job's settings differ from the checkpoint's and apply from here on: " + "; ".join(changed),
            file=out,
            flush=True,
        )
        return spec
    print(
        "rlrt: this job's settings differ from the checkpoint's and were NOT applied (no step is trained): "
        + "; ".join(changed)
        + ". To train with them, raise a stop criterion (rl.training.stop.*) to resume, or "
        "start afresh in another tree (--base-dir) or after emptying checkpoints/.",
        file=out,
        flush=True,
    )
    return replace(spec, config=dict(stored)) if stored is not None else spec


def _final_evaluation(
    session: TrainingSession, env_id: str | None, iteration: int, job: JobEnvironment, out: TextIO, spec: TrainingSpec
) -> None:
    """Play the exported policy for the episodes the session asks for (``evaluation.json``), with the evaluator."""
    episodes = session.final_evaluation_episodes()
    actor = session.rollout_actor() if env_id and episodes >= 1 else None
    if actor is not None and env_id:
        evaluate_policy(
            actor,
            env_id,
            episodes,
            iteration,
            job.intermediate_dir,
            out,
            step_budget=spec.extras.get(hp.EVALUATE_MAX_EPISODE_STEPS),
        )
