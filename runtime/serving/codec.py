"""Request and response formats of ``/invocations`` and Batch Transform (one implementation for both).

Self-contained (standard library + numpy only): it is also copied into ``model/code/`` as ``rlrt_codec.py``, with
its fast path :mod:`runtime.serving.number_rows` as ``rlrt_number_rows.py``, for SageMaker's PyTorch and TensorFlow
Serving containers, which do not have rlrt installed.

Requests (``Content-Type``):

- ``application/json``: TensorFlow Serving's columnar ``{"inputs": {"observations": [[...], ...], ...}}`` (other named
  inputs, such as the seeds' ``prev_action``, ``is_training``, ``prev_reward``, ``seq_lens`` placeholders, are ignored)
  or ``{"inputs": [[...]]}``; row format ``{"instances": [[...], ...]}`` (an instance may also be ``{"observations":
  [...]}``); or a bare list (one observation, or a list of them);
- ``application/jsonlines``: one JSON observation (a list of numbers) per line;
- ``text/csv``: one observation per row, numbers only, no header.

Responses: columnar requests get ``{"outputs": {"actions": [...], "action_probabilities": [...]}}``; every other
request gets ``{"predictions": [...]}``, one entry per observation: for a discrete policy the action-probability
list (so ``predictions[0]`` feeds straight back into data collection; the greedy action is its argmax), for a
continuous policy or one with several discrete parts (``MultiDiscrete``) the action vector. ``Accept``: ``text/csv``,
``application/json`` or ``application/jsonlines`` (one ``{"predictions": [p]}`` line per observation; CSV: one row
per observation). Without ``Accept``, JSON lines answer JSON lines and everything else answers JSON.

Large bodies of plain numbers are read by numpy a piece at a time, exactly as json and csv read them
(:mod:`runtime.serving.number_rows`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence, cast

import numpy as np

try:  # inside rlrt
    from runtime.serving import number_rows
except ImportError:  # inside a SageMaker serving container: the copy next to this file
    import rlrt_number_rows as number_rows  # type: ignore[no-redef]

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
JSONLINES_ALIASES = ("application/jsonlines", "application/jsonl", "application/x-jsonlines", "application/json-lines")
COLUMNAR = "columnar"
ROWS = "rows"

OBSERVATIONS = "observations"
ACTIONS = "actions"
ACTION_PROBABILITIES = "action_probabilities"
FAST_PATH_BYTES = 1 << 16  # bodies this large try the fast path (below, json and csv alone are as fast)


class RequestError(ValueError):
    """A request the client must fix (HTTP 400 unless ``status`` says otherwise)."""

    status = 400


class UnsupportedContentType(RequestError):
    status = 415


class NotAcceptable(RequestError):
    status = 406


class PayloadTooLarge(RequestError):
    status = 413


def media_type(header: str | None) -> str:
    """``"text/csv; charset=utf-8"`` -> ``"text/csv"`` (lower case); jsonlines aliases -> ``application/jsonlines``."""
    value = (header or "").split(";", 1)[0].strip().lower()
    return JSONLINES if value in JSONLINES_ALIASES else value


@dataclass(frozen=True)
class Decoded:
    """Observations parsed from a request, and which response shape the request asks for."""

    observations: np.ndarray
    style: str
    """:data:`COLUMNAR` or :data:`ROWS`."""
    content_type: str


def to_observations(value: Any, observation_dim: int, where: str = "observations") -> np.ndarray:
    """A float32 ``[n, observation_dim]`` array from a list of observations (or one observation)."""
    if isinstance(value, (str, bytes, bool)) or value is None or isinstance(value, Mapping):
        raise RequestError(f"{where} must be a list of numbers or a list of such lists")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):  # OverflowError: an integer beyond float's range
        raise RequestError(
            f"{where} must be numbers: a list of {observation_dim} numbers per observation (rows of equal length)"
        ) from None
    if array.size == 0:
        raise RequestError(f"{where} is empty")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise RequestError(
            f"{where} must be a list of observations, each a list of {observation_dim} numbers; "
            f"got an array of shape {list(array.shape)}"
        )
    if array.shape[1] != observation_dim:
        raise RequestError(f"each observation must have {observation_dim} numbers, got {array.shape[1]}")
    if not np.all(np.isfinite(array)):
        raise RequestError(f"{where} must be finite numbers (no NaN or infinity)")
    if any(type(x) is bool for row in value for x in (row if type(row) is list else (row,))):
        raise RequestError(
            f"{where} holds a boolean (true or false), which would be read as 1 or 0; the model takes "
            f"float32 numbers, {observation_dim} per observation: send 1 or 0 if that is meant"
        )
    return array


def _loads(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestError(f"{where} is JSON nested too deeply to be observations") from None


def decode_json_value(value: Any, observation_dim: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Observations and response style of one JSON request value (which may hold ``rows`` itself: the fast path)."""

    def convert(item: Any, where: str = OBSERVATIONS) -> np.ndarray:
        if rows is not None and item is rows:
            return rows
        return to_observations(item, observation_dim, where)

    if isinstance(value, Mapping):
        if "inputs" in value:
            inputs = value["inputs"]
            if isinstance(inputs, Mapping):
                if OBSERVATIONS not in inputs:
                    raise RequestError(
                        f"'inputs' has no '{OBSERVATIONS}' (got: {', '.join(map(str, inputs)) or 'nothing'})"
                    )
                return convert(inputs[OBSERVATIONS], "inputs.observations"), COLUMNAR
            return convert(inputs, "inputs"), COLUMNAR
        if "instances" in value:
            instances = value["instances"]
            if isinstance(instances, list) and instances and all(isinstance(i, Mapping) for i in instances):
                if not all(OBSERVATIONS in i for i in instances):
                    raise RequestError(f"every instance object needs '{OBSERVATIONS}'")
                instances = [i[OBSERVATIONS] for i in instances]
            return convert(instances, "instances"), ROWS
        if OBSERVATIONS in value:
            return convert(value[OBSERVATIONS]), ROWS
        raise RequestError("a JSON request needs 'inputs' (columnar), 'instances' (rows) or a list of observations")
    return convert(value), ROWS


def decode(
    body: bytes,
    content_type: str | None,
    observation_dim: int,
    max_general_bytes: int | None = None,
    fast_from_bytes: int = FAST_PATH_BYTES,
) -> Decoded:
    """Parse a request body; raises :class:`RequestError` (400), :class:`UnsupportedContentType` (415), or
    :class:`PayloadTooLarge` (413: only the general path, ~10 bytes a byte, reads it and it is over the limit)."""
    kind = media_type(content_type) or JSON
    body = body.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark (Excel's "CSV UTF-8") is no data
    large, too_large = len(body) >= fast_from_bytes, max_general_bytes is not None and len(body) > max_general_bytes
    if kind == JSON:
        found = number_rows.json_rows(body, observation_dim, decode_json_value) if large else -1
        if isinstance(found, tuple):
            return Decoded(found[0], found[1], kind)
        if too_large:
            where = f" (from byte {found}: {body[found : found + 40]!r})" if found >= 0 else ""
            raise PayloadTooLarge(
                f"a JSON body over {(max_general_bytes or 0) / 2**20:g} MB must hold its "
                f"observations as rows of {observation_dim} plain numbers; this one does not{where}"
            )
        observations, style = decode_json_value(_loads(body, "the request body"), observation_dim)
        return Decoded(observations, style, kind)
    if kind == JSONLINES:
        observations = _by_lines(
            body, observation_dim, number_rows.row_patterns(observation_dim)[1] if large else None, _jsonlines_rows
        )
        if not len(observations):
            raise RequestError("the request has no JSON lines")
        return Decoded(observations, ROWS, kind)
    if kind == CSV:
        if too_large and number_rows.CSV_WHOLE.search(body):
            raise PayloadTooLarge(f"a CSV body over {(max_general_bytes or 0) / 2**20:g} MB must not quote its fields")
        return Decoded(decode_csv(body, observation_dim, fast_from_bytes), ROWS, kind)
    raise UnsupportedContentType(f"unsupported Content-Type {content_type!r}; use {JSON}, {JSONLINES} or {CSV}")


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 text") from None


def _jsonlines_rows(text: str, observation_dim: int, before: int = 0) -> tuple[list[np.ndarray], int]:
    """The observations of JSON lines (numbered from ``before + 1``) and how many lines there were."""
    rows = []
    lines = text.splitlines()
    for number, line in enumerate(lines, before + 1):
        if line.strip():
            rows.append(decode_json_value(_loads(line, f"line {number}"), observation_dim)[0])
    return rows, len(lines)


def _csv_rows(text: str, observation_dim: int, before: int = 0) -> tuple[list[list[float]], int]:
    """The rows of numbers of CSV text (numbered from ``before + 1``) and how many rows there were."""
    rows = []
    reader = csv.reader(io.StringIO(text))
    try:
        numbered = list(enumerate(reader, before + 1))
    except csv.Error as exc:  # a NUL byte, an unterminated quote, a field over the csv module's limit
        raise RequestError(f"CSV row {before + reader.line_num} cannot be read: {exc}") from None
    for number, row in numbered:
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            rows.append([float(cell) for cell in row])
        except ValueError:
            raise RequestError(f"CSV row {number} is not all numbers (CSV input has no header row)") from None
        if len(rows[-1]) != observation_dim:
            raise RequestError(f"CSV row {number} has {len(rows[-1])} values, expected {observation_dim}")
    return rows, len(numbered)


def decode_csv(body: bytes | str, observation_dim: int, fast_from_bytes: int = FAST_PATH_BYTES) -> np.ndarray:
    """CSV rows of numbers -> observations."""
    if isinstance(body, bytes) and not number_rows.CSV_WHOLE.search(body):
        pattern = number_rows.row_patterns(observation_dim)[2] if len(body) >= fast_from_bytes else None
        rows: Any = _by_lines(body, observation_dim, pattern, _csv_rows)
    else:
        rows = _csv_rows(_utf8(body) if isinstance(body, bytes) else body, observation_dim)[0]
    if not len(rows):
        raise RequestError("the CSV request has no rows")
    return to_observations(rows, observation_dim, "CSV rows")


def _by_lines(
    body: bytes, dim: int, pattern: re.Pattern[bytes] | None, general: Callable[[str, int, int], tuple[list, int]]
) -> np.ndarray:
    """The rows of a body of lines, a piece of whole lines at a time: pieces of plain rows by numpy (``pattern``),
    any other by ``general(text, dim, lines before)``, which numbers lines as if it read the whole body."""
    if not body.isascii():
        _utf8(body)
    total = body.count(b"\n")
    out = np.empty((total + 1, dim), dtype=np.float32)  # a row a line, but for JSON lines of several observations
    n = lines = pos = seen = 0
    while pos < len(body):
        end = body.find(b"\n", pos + number_rows.PIECE_BYTES)
        end = len(body) if end < 0 else end + 1
        piece, pos = body[pos:end], end
        seen += piece.count(b"\n")
        parsed = number_rows.parse_into(out, n, piece) if pattern is not None and pattern.fullmatch(piece) else -1
        if parsed > n:
            n, lines = parsed, lines + piece.count(b"\n")  # every piece but the last ends its last line
            continue
        parts, count = general(piece.decode("utf-8"), dim, lines)
        lines += count
        if parts:
            rows = np.concatenate(parts) if isinstance(parts[0], np.ndarray) else np.asarray(parts, np.float32)
            if n + len(rows) + total - seen + 1 > len(out):
                out = np.concatenate([out[:n], np.empty((len(rows) + total - seen + 1, dim), np.float32)])
            out[n : n + len(rows)] = rows
            n += len(rows)
    return out[:n]


def response_type(accept: str | None, request_type: str) -> str:
    """The response media type for an ``Accept`` header (406 if none of ours is acceptable)."""
    if not accept or not accept.strip():
        return JSONLINES if request_type == JSONLINES else JSON
    for part in accept.split(","):
        kind = media_type(part)
        if kind in ("*/*", "application/*", ""):
            return JSONLINES if request_type == JSONLINES else JSON
        if kind in (JSON, JSONLINES, CSV):
            return kind
        if kind == "text/*":
            return CSV
    raise NotAcceptable(f"cannot answer Accept {accept!r}; use {JSON}, {JSONLINES} or {CSV}")


def primary(outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """The per-row prediction: action probabilities for one discrete action (1-D actions), else the actions."""
    return outputs[ACTION_PROBABILITIES if ACTION_PROBABILITIES in outputs and outputs[ACTIONS].ndim < 2 else ACTIONS]


def _plain(array: np.ndarray) -> list:
    return cast(list[Any], np.asarray(array).tolist())  # callers pass slices (never 0-d): tolist() gives a list


def encode(outputs: Mapping[str, np.ndarray], style: str, accept_type: str) -> bytes:
    """The response body for ``outputs`` (arrays with one row per observation)."""
    return b"".join(encode_pieces(outputs, style, accept_type))


def encode_pieces(outputs: Mapping[str, np.ndarray], style: str, accept_type: str, rows: int = 8192) -> Iterator[bytes]:
    """:func:`encode`'s answer, ``rows`` observations at a time (a large answer need not be held whole)."""
    if accept_type == JSON:
        named = outputs if style == COLUMNAR else {"predictions": primary(outputs)}
        yield b'{"outputs": {' if style == COLUMNAR else b"{"
        for index, (name, value) in enumerate(named.items()):
            yield (", " * bool(index) + json.dumps(name) + ": [").encode()
            for start in range(0, len(value), rows):
                yield (", " * bool(start) + json.dumps(_plain(value[start : start + rows]))[1:-1]).encode()
            yield b"]"
        yield b"}}" if style == COLUMNAR else b"}"
        return
    predictions = primary(outputs)
    for start in range(0, len(predictions), rows):
        chunk = _plain(predictions[start : start + rows])
        if accept_type == JSONLINES:
            yield "".join(json.dumps({"predictions": [row]}) + "\n" for row in chunk).encode()
        else:
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(row if isinstance(row, list) else [row] for row in chunk)
            yield out.getvalue().encode()


def observation_dim_from_metadata(metadata: Mapping[str, Any]) -> int:
    """The flat observation length from ``metadata.json``."""
    serving = metadata.get("serving") or {}
    shape = ((serving.get("inputs") or {}).get(OBSERVATIONS) or {}).get("shape")
    if shape and shape[-1]:
        return int(shape[-1])
    space = metadata.get("observation_space") or {}
    dims = space.get("shape") or []
    if len(dims) != 1:
        raise ValueError(f"metadata.json has no flat observation shape (observation_space: {space})")
    return int(dims[0])


__all__: Sequence[str] = [
    "JSON",
    "JSONLINES",
    "CSV",
    "RequestError",
    "UnsupportedContentType",
    "NotAcceptable",
    "PayloadTooLarge",
    "Decoded",
    "decode",
    "encode",
    "encode_pieces",
    "response_type",
    "primary",
    "media_type",
    "observation_dim_from_metadata",
]
