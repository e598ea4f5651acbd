"""``rlrt export``: (re)write the serving exports of a model folder, as training does at its end."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.commands.options import RAW, user_path
from runtime.errors import command_failure_file, run_job
from runtime.export.formats import describe_formats
from runtime.export.pipeline import CHECK_HELP, export_model_folder
from runtime.plugins import INSTALLED


def add_parser(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser(
        "export",
        help="(re)write the serving exports of a model folder (RLlib or d3rlpy)",
        description=f"Write the serving exports, {describe_formats()}, for a model folder from its checkpoint, "
        "as training does at its end (the TensorFlow SavedModel when RLRT_TF_PYTHON is set).",
        epilog="example:\n  RLRT_TF_PYTHON=$(scripts/install-tf.sh)/bin/python rlrt export --model-dir job/model",
        formatter_class=RAW,
    )
    export.add_argument("--model-dir", type=user_path, required=True, help="a model folder written by `rlrt train`")
    export.add_argument("--check", action="store_true", help=CHECK_HELP)
    export.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return run_job(
        lambda: (export_model_folder(args.model_dir, INSTALLED, check=args.check), 0)[1],
        failure_file=command_failure_file,
    )
