"""Errors environments raise; the runtime maps :class:`EnvConfigError` (and an :class:`EnvStartError` met while a job
sets up its environments) onto its user-facing error."""

from __future__ import annotations


class EnvConfigError(ValueError):
    """A user-fixable problem with an environment's configuration or files (the message says how to fix it)."""


class EnvStartError(RuntimeError):
    """An environment's process (a game, a simulator) died or stopped answering; the message names it, its exit
    code or the wait that ran out, and where its output is."""
