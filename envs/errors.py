"""Errors environments raise; the runtime maps :class:`EnvConfigError` onto its user-facing error."""

from __future__ import annotations


class EnvConfigError(ValueError):
    """A user-fixable problem with an environment's configuration or files (the message says how to fix it)."""
