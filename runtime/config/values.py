"""Hyperparameter values: how SageMaker's JSON-encoded strings decode, numbers given as strings, and one check of a
value against its expected type and range (used by every grammar: rlrt's, the backends', the DeepRacer dialect's)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, NamedTuple

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SHOWN_CHARS = 60
"""How much of a value a message shows (SageMaker shows the first 1024 characters of the failure file)."""
_INTEGER_TEXT = re.compile(r"\s*[-+]?(\d+)\s*")


class ValueCheck(NamedTuple):
    """What a configuration value must be: the python types accepted, a predicate on a value of those types, and
    what the predicate means (the problem reads "'<key>' must be <meaning>, got ..."); ``default`` is the value a
    grammar uses when the key is absent (where it has one: the offline backend's own keys). A named tuple, so a
    caller that indexes it (``check[0]``: the types) keeps working."""

    types: tuple[type, ...]
    predicate: Callable[[Any], bool]
    meaning: str
    default: Any = None

    def coerce(self, value: Any) -> Any:
        """``value`` as the number this check expects when it is a string that spells one (:func:`coerce_value`)."""
        return coerce_value(value, self.types)

    def problem(self, key: str, value: Any) -> str | None:
        """A problem description for ``value`` of ``key``, or None if it is fine (a string that spells the expected
        number is fine: :meth:`coerce` gives the number)."""
        value = self.coerce(value)
        if isinstance(value, bool) and bool not in self.types:
            return f"'{key}' must be {self.meaning}, got the boolean {json.dumps(value)}"
        if not isinstance(value, self.types):
            return f"'{key}' must be {self.meaning}, got {shown(value)} ({type(value).__name__})"
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:  # floats, NumPy and torch take no more
            return f"'{key}' must be {self.meaning}, at most {INT64_MAX} (64 bits), got {shown(value)}"
        try:
            ok = self.predicate(value)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            return f"'{key}' must be {self.meaning}, got {shown(value)}"
        return None


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogate: what undecodable bytes become)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """``text`` with what is not UTF-8 spelled out: the byte ``0xff`` of a non-UTF-8 shell as ``\\xff``."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``value`` as a message shows it: JSON, readable, shortened (``99999999…99999999 (400 digits)``)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        digits = _digits(value)
        return f"{digits[:8]}…{digits[-8:]} ({len(digits)} digits)" if digits else "an integer over 4300 digits"
    if isinstance(value, str):
        match = _INTEGER_TEXT.fullmatch(value)
        if match and len(match.group(1)) > 20:
            return f'"{match.group(1)[:8]}…{match.group(1)[-8:]}" ({len(match.group(1))} digits)'
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except ValueError:  # an integer over Python's string limit inside a list or dict
        text = "a value holding an integer over 4300 digits"
    text = readable(text)
    if len(text) > limit:
        return f"{text[: limit - 12]}…{text[-8:]} ({len(text)} characters)"
    return text


def _digits(value: int) -> str:
    try:
        return str(abs(value))
    except ValueError:  # over Python's integer-string limit
        return ""


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
        # Past 64 bits no key takes it; past Python's integer-string limit (4300 digits) int() raises.
        return int(value) if len(value.strip()) <= 40 else value
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


def check_value(key: str, value: Any, check: ValueCheck) -> str | None:
    """``check.problem(key, value)``: a problem description for ``value`` under ``check``, or None if it is fine
    (the function form, for callers such as runtime.evaluate.settings)."""
    return check.problem(key, value)
