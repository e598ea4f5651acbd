"""Hyperparameter values: how SageMaker's JSON-encoded strings decode, numbers given as strings, and one check of a
value against its expected type and range (used by every grammar: rlrt's, the backends', the DeepRacer dialect's)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

Check = tuple[tuple[type, ...], Callable[[Any], bool], str]
"""(python types accepted, check, what the check means)."""


def decode_value(text: str) -> Any:
    """Decode a value the way sagemaker-training does: JSON if it parses, else the string itself (also for JSON
    nested too deeply for Python's decoder, which raises RecursionError)."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return text


_INTEGER = re.compile(r"\s*[-+]?\d+\s*")
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def parse_number(value: Any) -> Any:
    """The number a string spells (``"64"`` -> 64, ``"3e-4"`` -> 0.0003, ``"7.0"`` -> 7.0), or ``value`` unchanged
    (any other string, ``"nan"``, ``"1e400"``, or not a string)."""
    if not isinstance(value, str):
        return value
    if _INTEGER.fullmatch(value):
        return int(value)
    if _NUMBER.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else value
    return value


def coerce_value(value: Any, types: tuple[type, ...]) -> Any:
    """``value`` as the number ``types`` expects when it is a string that spells one (SageMaker's algorithms accept
    ``"64"`` for 64); otherwise unchanged, for the check to refuse. An integer key takes only an integer string."""
    if not isinstance(value, str) or str in types:
        return value
    number = parse_number(value)
    if isinstance(number, int) and (int in types or float in types):
        return number if int in types else float(number)
    if isinstance(number, float) and float in types:
        return number
    return value


def check_value(key: str, value: Any, check: Check) -> str | None:
    """Return a problem description for ``value`` under ``check``, or None if it is fine (a string that spells the
    expected number is fine: :func:`coerce_value` gives the number)."""
    types, predicate, meaning = check
    value = coerce_value(value, types)
    if isinstance(value, bool) and bool not in types:
        return f"'{key}' must be {meaning}, got the boolean {json.dumps(value)}"
    if not isinstance(value, types):
        return f"'{key}' must be {meaning}, got {json.dumps(value, default=str)} ({type(value).__name__})"
    try:
        ok = predicate(value)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        return f"'{key}' must be {meaning}, got {json.dumps(value, default=str)}"
    return None
