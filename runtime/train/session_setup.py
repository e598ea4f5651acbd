"""The training session a job trains with, built: the environment family's hooks prepare the spec, the resolved
configuration is written, and the backend that trains the spec's algorithm builds its session (an error on the way
in the family's words where it has them); and the spaces its checkpoints record."""

from __future__ import annotations

from typing import Any, TextIO

from envs.registry import UnknownEnvironmentError, canonical_env_id
from runtime.config.spec import TrainingSpec
from runtime.contracts import BackendContext, BackendFactory, EarlyStart, TrainingHooks, TrainingSession
from runtime.errors import UserError
from runtime.export.model_dir import write_resolved_config
from runtime.job.environment import JobEnvironment
from runtime.train.checkpoints import describe_space


def _canonical_env(spec: TrainingSpec) -> str | None:
    """The registry id of ``spec.env``; None for an offline job that names no environment."""
    if not spec.env or spec.env.lower() == "none":
        return None
    try:
        return canonical_env_id(spec.env)
    except UnknownEnvironmentError as exc:
        raise UserError(str(exc)) from exc


def recorded_spaces(session: TrainingSession) -> tuple[str, str]:
    """The session's observation and action spaces as checkpoints record them (empty for a session that does not
    say: its checkpoints are then compared by algorithm and environment alone)."""
    spaces = session.checkpoint_spaces()
    if spaces is None:
        return "", ""
    observation_space, action_space = spaces
    return describe_space(observation_space), describe_space(action_space)


def build_session(
    job: JobEnvironment,
    spec: TrainingSpec,
    factory: BackendFactory,
    hooks: TrainingHooks,
    out: TextIO,
    cluster: Any,
    early_start: EarlyStart | None,
) -> tuple[TrainingSession, TrainingSpec, str | None]:
    """The family prepares the spec, then ``factory`` (the backend the job chose for it) builds the session; returns
    it, the prepared spec and the canonical environment id."""
    spec = hooks.prepare(spec)
    env_id = _canonical_env(spec)
    write_resolved_config(job.intermediate_dir, spec)
    context = BackendContext(job, spec, env_id, hooks, out, cluster, early_start)
    try:
        return factory.create(context), spec, env_id
    except Exception as exc:  # e.g. an env that fails to build in a runner
        translated = hooks.translate_error(exc)
        if translated is not None:
            raise translated from None
        raise
