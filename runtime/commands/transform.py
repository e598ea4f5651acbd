"""``rlrt transform``: SageMaker Batch Transform of a folder of JSON-lines or CSV files into ``.out`` files."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.commands.options import RAW, user_path
from runtime.errors import command_failure_file, run_job
from runtime.serving.transform import TransformOptions, run_transform


def add_parser(sub: argparse._SubParsersAction) -> None:
    transform = sub.add_parser(
        "transform",
        help="Batch Transform a folder of JSON-lines or CSV files into .out files",
        description=(
            "Run a model over every file in INPUT (a file or folder) like SageMaker Batch Transform: each file F "
            'becomes OUTPUT/F.out with one output line per input line ({"predictions": [...]}; for discrete '
            "policies predictions[0] is the action-probability list)."
        ),
        epilog=(
            "examples:\n"
            "  rlrt transform --model job/model --input states/ --output predictions/\n"
            "  rlrt transform --model model.tar.gz --input states.jsonl --output out/ --join-source Input\n"
            "  rlrt transform --model job/model --input rows.csv --output out/ --accept text/csv --strategy "
            "SingleRecord"
        ),
        formatter_class=RAW,
    )
    transform.add_argument(
        "--model", type=user_path, help="model folder or model.tar.gz (default: $SAGEMAKER_BASE_DIR/model)"
    )
    transform.add_argument("--input", type=user_path, required=True, help="input file or folder")
    transform.add_argument("--output", type=user_path, required=True, help="output folder (created)")
    transform.add_argument("--content-type", help="application/jsonlines, text/csv or application/json (by extension)")
    transform.add_argument("--split-type", default="Line", help="Line (default) or None (a file is one request)")
    transform.add_argument("--strategy", default="MultiRecord", help="MultiRecord (default) or SingleRecord")
    transform.add_argument("--accept", help="application/jsonlines (default for Line), application/json or text/csv")
    transform.add_argument("--join-source", default="None", help="None (default) or Input (join outputs to inputs)")
    transform.add_argument("--max-payload-mb", type=float, default=6.0, help="MaxPayloadInMB (default 6)")
    transform.add_argument("--no-progress", action="store_true", help="no progress bar")
    transform.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    options = TransformOptions(
        args.content_type, args.split_type, args.strategy, args.accept, args.join_source, args.max_payload_mb
    )
    return run_job(
        lambda: run_transform(args.model, args.input, args.output, options, not args.no_progress),
        failure_file=command_failure_file,
    )
