"""Request and response formats of ``/invocations`` and Batch Transform (one implementation for both).

Self-contained (standard library + numpy only): it is also copied into ``model/code/`` as ``rlrt_codec.py`` for
SageMaker's PyTorch and TensorFlow Serving containers, which do not have rlrt installed.

Requests (``Content-Type``):

- ``application/json``: TensorFlow Serving's columnar ``{"inputs": {"observations": [[...], ...], ...}}`` (other
  named inputs, such as the seeds' ``prev_action``, ``is_training``, ``prev_reward``, ``seq_lens`` placeholders,
  are ignored) or ``{"inputs": [[...]]}``; row format ``{"instances": [[...], ...]}`` (an instance may also be
  ``{"observations": [...]}``); or a bare list (one observation, or a list of them);
- ``application/jsonlines``: one JSON observation (a list of numbers) per line;
- ``text/csv``: one observation per row, numbers only, no header.

Responses: columnar requests get ``{"outputs": {"actions": [...], "action_probabilities": [...]}}``; every other
request gets ``{"predictions": [...]}``, one entry per observation: for a discrete policy the action-probability
list (so ``predictions[0]`` feeds straight back into data collection; the greedy action is its argmax), for a
continuous policy the action vector. ``Accept`` picks the encoding: ``application/json``,
``application/jsonlines`` (one ``{"predictions": [p]}`` line per observation), or ``text/csv`` (one row per
observation). Without ``Accept``, JSON lines answer JSON lines and everything else answers JSON.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
JSONLINES_ALIASES = ("application/jsonlines", "application/jsonl", "application/x-jsonlines", "application/json-lines")
COLUMNAR = "columnar"
ROWS = "rows"

OBSERVATIONS = "observations"
ACTIONS = "actions"
ACTION_PROBABILITIES = "action_probabilities"


class RequestError(ValueError):
    """A request the client must fix (HTTP 400 unless ``status`` says otherwise)."""

    status = 400


class UnsupportedContentType(RequestError):
    status = 415


class NotAcceptable(RequestError):
    status = 406


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
        raise RequestError(f"{where} must be a list of observations, each a list of {observation_dim} numbers; "
                           f"got an array of shape {list(array.shape)}")
    if array.shape[0] == 0:
        raise RequestError(f"{where} is empty")
    if array.shape[1] != observation_dim:
        raise RequestError(f"each observation must have {observation_dim} numbers, got {array.shape[1]}")
    if not np.all(np.isfinite(array)):
        raise RequestError(f"{where} must be finite numbers (no NaN or infinity)")
    return array


def _loads(text: str | bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestError(f"{where} is JSON nested too deeply to be observations") from None


def decode_json_value(value: Any, observation_dim: int) -> tuple[np.ndarray, str]:
    """Observations and response style of one JSON request value."""
    if isinstance(value, Mapping):
        if "inputs" in value:
            inputs = value["inputs"]
            if isinstance(inputs, Mapping):
                if OBSERVATIONS not in inputs:
                    raise RequestError(f"'inputs' has no '{OBSERVATIONS}' (got: {', '.join(map(str, inputs)) or 'nothing'})")
                return to_observations(inputs[OBSERVATIONS], observation_dim, "inputs.observations"), COLUMNAR
            return to_observations(inputs, observation_dim, "inputs"), COLUMNAR
        if "instances" in value:
            instances = value["instances"]
            if isinstance(instances, list) and instances and all(isinstance(i, Mapping) for i in instances):
                if not all(OBSERVATIONS in i for i in instances):
                    raise RequestError(f"every instance object needs '{OBSERVATIONS}'")
                instances = [i[OBSERVATIONS] for i in instances]
            return to_observations(instances, observation_dim, "instances"), ROWS
        if OBSERVATIONS in value:
            return to_observations(value[OBSERVATIONS], observation_dim, OBSERVATIONS), ROWS
        raise RequestError("a JSON request needs 'inputs' (columnar), 'instances' (rows) or a list of observations")
    return to_observations(value, observation_dim), ROWS


def decode(body: bytes, content_type: str | None, observation_dim: int) -> Decoded:
    """Parse a request body; raises :class:`RequestError` (400) or :class:`UnsupportedContentType` (415)."""
    kind = media_type(content_type) or JSON
    if kind == JSON:
        observations, style = decode_json_value(_loads(body, "the request body"), observation_dim)
        return Decoded(observations, style, kind)
    if kind == JSONLINES:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError("the request body is not UTF-8 text") from None
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                value = _loads(line, f"line {number}")
                rows.append(decode_json_value(value, observation_dim)[0])
        if not rows:
            raise RequestError("the request has no JSON lines")
        return Decoded(np.concatenate(rows), ROWS, kind)
    if kind == CSV:
        return Decoded(decode_csv(body, observation_dim), ROWS, kind)
    raise UnsupportedContentType(
        f"unsupported Content-Type {content_type!r}; use {JSON}, {JSONLINES} or {CSV}"
    )


def decode_csv(body: bytes | str, observation_dim: int) -> np.ndarray:
    """CSV rows of numbers -> observations."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 text") from None
    rows = []
    reader = csv.reader(io.StringIO(text))
    try:
        numbered = list(enumerate(reader, 1))
    except csv.Error as exc:  # a NUL byte, an unterminated quote, a field over the csv module's limit
        raise RequestError(f"CSV row {reader.line_num} cannot be read: {exc}") from None
    for number, row in numbered:
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            rows.append([float(cell) for cell in row])
        except ValueError:
            raise RequestError(f"CSV row {number} is not all numbers (CSV input has no header row)") from None
        if len(rows[-1]) != observation_dim:
            raise RequestError(f"CSV row {number} has {len(rows[-1])} values, expected {observation_dim}")
    if not rows:
        raise RequestError("the CSV request has no rows")
    return to_observations(rows, observation_dim, "CSV rows")


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
    """The per-row prediction: action probabilities for discrete policies, else the actions."""
    return outputs[ACTION_PROBABILITIES] if ACTION_PROBABILITIES in outputs else outputs[ACTIONS]


def _plain(array: np.ndarray) -> list:
    return np.asarray(array).tolist()


def encode(outputs: Mapping[str, np.ndarray], style: str, accept_type: str) -> bytes:
    """The response body for ``outputs`` (arrays with one row per observation)."""
    if style == COLUMNAR and accept_type == JSON:
        return json.dumps({"outputs": {name: _plain(value) for name, value in outputs.items()}}).encode()
    rows = _plain(primary(outputs))
    if accept_type == JSON:
        return json.dumps({"predictions": rows}).encode()
    if accept_type == JSONLINES:
        return "".join(json.dumps({"predictions": [row]}) + "\n" for row in rows).encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow(row if isinstance(row, list) else [row])
    return out.getvalue().encode()


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
    "JSON", "JSONLINES", "CSV", "RequestError", "UnsupportedContentType", "NotAcceptable", "Decoded",
    "decode", "encode", "response_type", "primary", "media_type", "observation_dim_from_metadata",
]
