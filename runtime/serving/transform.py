"""``rlrt transform``: SageMaker Batch Transform, locally, over a folder of JSON-lines or CSV files.

Every input file ``F`` becomes ``OUTPUT/F.out`` (SageMaker's naming) with the endpoint's per-record contract
(:mod:`runtime.serving.codec`): with ``split_type=Line`` each non-empty line is one record and gets one output line,
``{"predictions": [p]}`` (JSON lines, the default answer) or a CSV row (``accept=text/csv``); with
``split_type=None`` the whole file is one request and its ``.out`` is the response body.

``strategy`` is SageMaker's BatchStrategy: ``MultiRecord`` groups records into mini-batches of at most
``max_payload_mb`` (with ``accept=application/json`` each mini-batch answers one ``{"predictions": [...]}`` line,
as a container would); ``SingleRecord`` answers each record on its own. The policy is row-wise, so rlrt computes
either in large batches; the outputs are the same as sending the records one request at a time.

``join_source=Input`` joins like SageMaker: a JSON object record gets a ``SageMakerOutput`` key, any other JSON
record becomes ``{"SageMakerInput": record, "SageMakerOutput": output}``; a CSV row gets the output's values
appended. A malformed record stops the file with an error naming ``file:line``; nothing partial is left behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from runtime.errors import UserError
from runtime.serving import codec
from runtime.serving.model_store import OnnxPolicy, default_model_dir, locate_model
from runtime.serving.transform_files import check_output_folder, input_files, record_chunks, record_lines, write_error

SINGLE_RECORD = "SingleRecord"
MULTI_RECORD = "MultiRecord"
STRATEGIES = (SINGLE_RECORD, MULTI_RECORD)
SPLIT_TYPES = ("Line", "None")
JOIN_SOURCES = ("None", "Input")
EXTENSION_TYPES = {
    ".jsonl": codec.JSONLINES,
    ".jsonlines": codec.JSONLINES,
    ".json": codec.JSONLINES,
    ".csv": codec.CSV,
    ".txt": codec.JSONLINES,
}
CHUNK_RECORDS = 8192
"""Records parsed, inferred and written at a time (bounded memory on big files)."""


@dataclass(frozen=True)
class TransformOptions:
    """SageMaker's CreateTransformJob settings that apply locally."""

    content_type: str | None = None
    """Media type of the inputs; None: from each file's extension (.csv -> text/csv, else JSON lines)."""
    split_type: str = "Line"
    strategy: str = MULTI_RECORD
    accept: str | None = None
    join_source: str = "None"
    max_payload_mb: float = 6.0

    def check(self) -> None:
        problems = []
        if self.split_type not in SPLIT_TYPES:
            problems.append(f"split_type must be one of {', '.join(SPLIT_TYPES)}, got {self.split_type!r}")
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.join_source not in JOIN_SOURCES:
            problems.append(f"join_source must be one of {', '.join(JOIN_SOURCES)}, got {self.join_source!r}")
        if not 0 < self.max_payload_mb <= 100:
            problems.append(f"max_payload_mb must be in (0, 100], got {self.max_payload_mb}")
        if self.content_type and codec.media_type(self.content_type) not in (codec.JSON, codec.JSONLINES, codec.CSV):
            problems.append(
                f"content_type must be {codec.JSON}, {codec.JSONLINES} or {codec.CSV}, got {self.content_type!r}"
            )
        if problems:
            raise UserError("Invalid transform settings: " + "; ".join(problems))


@dataclass(frozen=True)
class TransformSummary:
    """What a transform did."""

    files: int
    records: int
    seconds: float
    outputs: list[Path]

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


class _Transformer:
    def __init__(self, policy: OnnxPolicy, options: TransformOptions) -> None:
        self.policy = policy
        self.options = options
        self.dim = policy.observation_dim
        self.max_payload = int(options.max_payload_mb * 1024 * 1024)

    def parse_json_line(self, path: Path, number: int, line: str) -> tuple[Any, np.ndarray]:
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise UserError(f"{path}:{number}: not valid JSON: {exc}") from None
        try:
            return value, codec.decode_json_value(value, self.dim)[0]
        except codec.RequestError as exc:
            raise UserError(f"{path}:{number}: {exc}") from None

    def parse_csv_line(self, path: Path, number: int, line: str) -> tuple[Any, np.ndarray]:
        try:
            return line, codec.decode_csv(line, self.dim)
        except codec.RequestError as exc:
            raise UserError(f"{path}:{number}: {exc}") from None

    def parse_chunk(
        self, path: Path, content_type: str, chunk: list[tuple[int, str]]
    ) -> tuple[list[Any], list[int], np.ndarray]:
        """(input values, observations per record, observations) for a chunk of record lines.

        The common case (every record one flat observation) is parsed in one call for the whole chunk; anything
        else, or any error, falls back to record-by-record parsing, which names the offending line.
        """
        lines = [line for _, line in chunk]
        try:
            if content_type == codec.CSV:
                cells = ",".join(lines).split(",")
                if len(cells) == len(lines) * self.dim:
                    array = np.asarray(cells, dtype=np.float32).reshape(len(lines), self.dim)
                    if np.isfinite(array).all():
                        return lines, [1] * len(lines), array
            else:
                joined = "[" + ",".join(lines) + "]"
                values = json.loads(joined)
                # a JSON boolean would be read as 1.0 here: record by record, it is refused naming its line
                plain = "true" not in joined and "false" not in joined
                if plain and all(type(v) is list and len(v) == self.dim for v in values):
                    array = np.asarray(values, dtype=np.float32)
                    if array.shape == (len(lines), self.dim) and np.isfinite(array).all():
                        return values, [1] * len(lines), array
        except (ValueError, TypeError):
            pass
        parse = self.parse_csv_line if content_type == codec.CSV else self.parse_json_line
        values, counts, arrays = [], [], []
        for number, line in chunk:
            value, rows = parse(path, number, line)
            values.append(value)
            counts.append(len(rows))
            arrays.append(rows)
        return values, counts, np.concatenate(arrays)

    def lines_file(self, path: Path, content_type: str, accept: str, out: Any, progress: Any) -> int:
        join = self.options.join_source == "Input"
        multi_json = self.options.strategy == MULTI_RECORD and accept == codec.JSON
        count = 0
        payload = 0
        pending: list[Any] = []  # MultiRecord + JSON: predictions of the mini-batch being assembled
        for chunk in record_chunks(record_lines(path), CHUNK_RECORDS):
            for number, line in chunk:
                if len(line) > self.max_payload // 4 and len(line.encode("utf-8")) > self.max_payload:
                    raise UserError(
                        f"{path}:{number}: the record is larger than max_payload_mb "
                        f"({self.options.max_payload_mb:g} MB)"
                    )
            values, counts, batch = self.parse_chunk(path, content_type, chunk)
            predictions = codec.primary(self.policy.predict(batch)).tolist()
            if not join and not multi_json and all(c == 1 for c in counts):
                out.write(_fast_lines(predictions, accept))
                count += len(chunk)
                progress.update(len(chunk))
                continue
            offset = 0
            lines_out: list[str] = []
            for (_number, line), value, rows in zip(chunk, values, counts):
                mine = predictions[offset : offset + rows]
                offset += rows
                if multi_json:
                    size = len(line) + 1
                    if payload + size > self.max_payload and pending:
                        lines_out.append(json.dumps({"predictions": pending}))
                        pending, payload = [], 0
                    pending.extend(mine)
                    payload += size
                    continue
                lines_out.append(self.record_output(mine, line if content_type == codec.CSV else value, accept, join))
            if lines_out:
                out.write("\n".join(lines_out) + "\n")
            count += len(chunk)
            progress.update(len(chunk))
        if pending:
            out.write(json.dumps({"predictions": pending}) + "\n")
        return count

    @staticmethod
    def record_output(predictions: list, value: Any, accept: str, join: bool) -> str:
        if accept == codec.CSV or (join and isinstance(value, str)):
            cells: list[Any] = []
            for p in predictions:
                cells.extend(p if isinstance(p, list) else [p])
            text = io.StringIO()
            csv.writer(text, lineterminator="").writerow(cells)
            result = text.getvalue()
            if join:
                return (value if isinstance(value, str) else json.dumps(value)) + "," + result
            return result
        output = {"predictions": predictions}
        if join:
            if isinstance(value, dict):
                return json.dumps({**value, "SageMakerOutput": output})
            return json.dumps({"SageMakerInput": value, "SageMakerOutput": output})
        return json.dumps(output)

    def whole_file(self, path: Path, content_type: str, accept: str, out: Any, progress: Any) -> int:
        body = path.read_bytes()
        if len(body) > self.max_payload:
            raise UserError(
                f"{path}: the file is larger than max_payload_mb ({self.options.max_payload_mb:g} MB); "
                "use split_type Line"
            )
        try:
            decoded = codec.decode(body, content_type, self.dim)  # as `rlrt serve` reads the same body
        except codec.RequestError as exc:
            raise UserError(f"{path}: {exc}") from None
        result = codec.encode(self.policy.predict(decoded.observations), decoded.style, accept).decode()
        if self.options.join_source == "Input":
            try:
                value: Any = json.loads(body)
            except ValueError:
                value = body.decode("utf-8", "replace")
            output = json.loads(result) if accept == codec.JSON else result
            joined = (
                {**value, "SageMakerOutput": output}
                if isinstance(value, dict)
                else {"SageMakerInput": value, "SageMakerOutput": output}
            )
            result = json.dumps(joined) + "\n"
        out.write(result if result.endswith("\n") else result + "\n")
        progress.update(len(decoded.observations))
        return len(decoded.observations)


def _row_text(row: Any, separator: str) -> str:
    if isinstance(row, list):
        return separator.join(map(repr, row))
    return repr(row)


def _fast_lines(predictions: list, accept: str) -> str:
    """One output line per record (one observation each): ``{"predictions": [p]}`` or a CSV row.

    ``repr`` of a Python float is exactly what ``json.dumps`` writes for it (predictions are finite floats or ints).
    """
    if accept == codec.CSV:
        return "".join(_row_text(p, ",") + "\n" for p in predictions)
    return "".join(
        '{"predictions": [[' + _row_text(p, ", ") + "]]}\n"
        if isinstance(p, list)
        else '{"predictions": [' + repr(p) + "]}\n"
        for p in predictions
    )


def transform(
    model: Path, input_path: Path, output_dir: Path, options: TransformOptions, show_progress: bool = True
) -> TransformSummary:
    """Run the policy in ``model`` over ``input_path`` (a file or folder) into ``output_dir``."""
    from tqdm import tqdm  # heavy: progress bars

    options.check()
    model_dir = locate_model(model)
    policy = OnnxPolicy(model_dir, threads=min(4, os.cpu_count() or 1))
    check_output_folder(input_path, output_dir)
    files = input_files(input_path, output_dir)
    root = input_path if input_path.is_dir() else input_path.parent
    worker = _Transformer(policy, options)
    started = time.monotonic()
    outputs: list[Path] = []
    records = 0
    with tqdm(total=None, unit="rec", desc="rlrt transform", disable=not show_progress, mininterval=0.5) as progress:
        for path in files:
            content_type = (
                codec.media_type(options.content_type)
                if options.content_type
                else EXTENSION_TYPES.get(path.suffix.lower(), codec.JSONLINES)
            )
            if content_type == codec.JSON and options.split_type == "Line":
                content_type = codec.JSONLINES
            if (
                content_type == codec.JSONLINES
                and options.split_type == "None"
                and not options.content_type
                and path.suffix.lower() not in (".jsonl", ".jsonlines")
            ):
                content_type = codec.JSON  # one document (its "inputs" answered as "outputs"); a .jsonl file's lines
            default_accept = codec.JSON if options.split_type == "None" else codec.JSONLINES
            try:
                accept = codec.response_type(options.accept, default_accept)
            except codec.NotAcceptable as exc:
                raise UserError(str(exc)) from None
            if (
                options.join_source == "Input"
                and options.strategy == MULTI_RECORD
                and accept == codec.JSON
                and options.split_type == "Line"
            ):
                raise UserError(
                    "join_source=Input needs one output per record: with MultiRecord use accept "
                    f"{codec.JSONLINES} or {codec.CSV}, or use SingleRecord"
                )
            target = output_dir / (str(path.relative_to(root)) + ".out")
            partial = target.with_name(target.name + ".partial")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with partial.open("w", encoding="utf-8", newline="") as out:
                    if options.split_type == "None":
                        records += worker.whole_file(path, content_type, accept, out, progress)
                    else:
                        records += worker.lines_file(path, content_type, accept, out, progress)
                partial.replace(target)
            except OSError as exc:
                raise write_error(exc, path, output_dir) from exc
            finally:
                try:
                    partial.unlink(missing_ok=True)
                except OSError:  # the folder could not be written: no partial file there
                    pass
            outputs.append(target)
    return TransformSummary(len(files), records, time.monotonic() - started, outputs)


def run_transform(
    model: Path | None, input_path: Path, output_dir: Path, options: TransformOptions, show_progress: bool = True
) -> int:
    """``rlrt transform``: transform and print a summary."""
    summary = transform(model or default_model_dir(), input_path, output_dir, options, show_progress)
    print(
        f"rlrt: transformed {summary.records} records in {summary.files} file(s) in {summary.seconds:.2f} s "
        f"({summary.records_per_s:,.0f} records/s) into {output_dir}",
        flush=True,
    )
    return 0


__all__: Sequence[str] = ["TransformOptions", "TransformSummary", "transform", "run_transform"]
