"""Where a preset set each parameter (its file and line), for rlrt's messages about the values it reads: kept beside
the objects, so that their attributes (which the translation compares with Coach's defaults) stay Coach's. rlrt's
own addition to Coach's API."""

from __future__ import annotations

import inspect
import os
import weakref
from typing import Any

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_WHERE: dict[int, dict[str, tuple[str, int]]] = {}
"""By the object's identity (a layer compares by value: two equal ``Dense(64)`` were set on different lines), each
entry dropped with its object."""


def _entry(obj: Any) -> dict[str, tuple[str, int]]:
    key = id(obj)
    if key not in _WHERE:
        _WHERE[key] = {}
        weakref.finalize(obj, _WHERE.pop, key, None)
    return _WHERE[key]


def record_where(obj: Any, key: str) -> None:
    """Remember the first caller outside rlrt's ``rl_coach`` (the preset's line) as where ``obj.key`` was set."""
    frame = inspect.currentframe()
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    if frame is not None:
        _entry(obj)[key] = (frame.f_code.co_filename, frame.f_lineno)


def copy_where(source: Any, key: str, target: Any) -> None:
    """``target.key`` was set where ``source.key`` was (a value copied from one object onto another)."""
    where = _WHERE.get(id(source), {}).get(key)
    if where is not None:
        _entry(target)[key] = where


class Recorded:
    """An object whose attributes remember where they were set (:meth:`rlrt_where`)."""

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)
        record_where(self, key)

    def rlrt_where(self, key: str) -> tuple[str, int] | None:
        """The file and line that set ``key``, or None (set by rlrt's ``rl_coach`` itself, or unknown)."""
        return _WHERE.get(id(self), {}).get(key)
