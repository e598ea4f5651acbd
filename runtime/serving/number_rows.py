"""The fast path of :mod:`runtime.serving.codec`: large bodies of rows of plain numbers, checked by regular
expressions and parsed by numpy a piece at a time, exactly as json and csv read them.

Standard library and numpy only, as the codec: it is copied into ``model/code/`` beside it as ``rlrt_number_rows.py``.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from typing import Any, Callable

import numpy as np

PIECE_BYTES = 1 << 20  # what one step of the fast path reads (other threads get the GIL between steps)
_JSON_WS = rb"[ \t\n\r]*"
# Numbers json and numpy read alike: integers (ints to json) that a double holds exactly; no integer -0 (int 0).
_JSON_NUMBER = rb"(?:0|-?[1-9][0-9]{0,14}|-0(?=[.eE]))(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_CSV_NUMBER = rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_MANY = b"*+" if sys.version_info >= (3, 11) else b"*"  # possessive: 5 times faster (SageMaker's may be older)
_BLANKS = bytes.maketrans(b"[],\t\n\r", b"      ")
_ROWS_START = re.compile(rb"\[" + _JSON_WS + rb"(?=\[" + _JSON_WS + rb"[-0-9])")
CSV_WHOLE = re.compile(rb'["\x00]|\r(?!\n)')  # CSV read whole: quotes, NUL bytes or lone carriage returns
_AFTER_ROW = re.compile(_JSON_WS + rb"(?:,|(\]))" + _JSON_WS)


@lru_cache(maxsize=8)
def row_patterns(dim: int) -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """Runs of rows of ``dim`` plain numbers: JSON rows in an array, JSON lines, CSV lines (blank lines too)."""

    def row(number: bytes, space: bytes, start: bytes, end: bytes) -> bytes:
        return start + space + number + b"(?:" + space + b"," + space + number + b"){%d}" % (dim - 1) + space + end

    def lines(one: bytes) -> re.Pattern[bytes]:
        line = rb"[ \t]*(?:" + one + rb"[ \t]*)?"
        return re.compile(b"(?:" + line + rb"\r?\n)" + _MANY + line)

    json_row = row(_JSON_NUMBER, _JSON_WS, rb"\[", rb"\]")
    return (
        re.compile(json_row + b"(?:" + _JSON_WS + b"," + _JSON_WS + json_row + b")" + _MANY),
        lines(row(_JSON_NUMBER, rb"[ \t]*", rb"\[", rb"\]")),
        lines(row(_CSV_NUMBER, rb"[ \t]*", b"", b"")),
    )


def parse_into(out: np.ndarray, n: int, piece: bytes) -> int:
    """Parse a checked piece into ``out[n:]`` (via float64, as json reads it): the new ``n``, or -1 if not finite."""
    text = piece.translate(_BLANKS)  # numpy reads blanks alone as [-1.0]
    values = np.fromstring(text, dtype=np.float64, sep=" ") if text and not text.isspace() else np.empty(0)
    rows = values.size // out.shape[1]
    out[n : n + rows] = values.reshape(rows, out.shape[1])
    return n + rows if np.isfinite(out[n : n + rows]).all() else -1


def _read_rows(body: bytes, pos: int, pattern: re.Pattern[bytes], dim: int) -> tuple[np.ndarray | None, int]:
    """The rows of a JSON array from ``pos`` (after its ``[``) and the offset past its ``]``, or None and where not."""
    out, n = np.empty((body.count(b"[", pos), dim), dtype=np.float32), 0
    while True:
        windows = (PIECE_BYTES, 16 * PIECE_BYTES, len(body))  # rows longer than a piece too
        match = next(filter(None, (pattern.match(body, pos, pos + window) for window in windows)), None)
        n = parse_into(out, n, body[pos : match.end()]) if match is not None else -1
        if match is None or n < 0:
            return None, pos
        after = _AFTER_ROW.match(body, match.end())
        if not after or after.group(1):  # not a comma: the array's end, or not JSON
            return (out[:n], after.end()) if after else (None, match.end())
        pos = after.end()


def json_rows(
    body: bytes, dim: int, read_value: Callable[[Any, int, np.ndarray], tuple[np.ndarray, str]]
) -> tuple[np.ndarray, str] | int:
    """Observations and style of a JSON body holding them as rows of ``dim`` plain numbers (numpy reads the rows, json
    the rest with NaN in their place, which the general routing, ``read_value(value, dim, rows)``, must pick), or
    where its rows go wrong (-1: none)."""
    stop = -1
    for count, start in enumerate(_ROWS_START.finditer(body)):
        rows, stop = _read_rows(body, start.end(), row_patterns(dim)[0], dim)
        if rows is None:
            if stop > start.end() or count > 8:  # rows that go wrong partway, or many arrays that are not rows
                return stop
            continue
        head, tail = body[: start.start()], body[stop:]
        if any(constant in part for part in (head, tail) for constant in (b"NaN", b"Infinity")):
            return -1
        try:
            value = json.loads(head + b"NaN" + tail, parse_constant=lambda _: rows)  # noqa: B023 - used at once
            observations, style = read_value(value, dim, rows)
        except (ValueError, RecursionError):  # RequestError is a ValueError: the general path says what is wrong
            return -1
        return (observations, style) if observations is rows else -1
    return stop
