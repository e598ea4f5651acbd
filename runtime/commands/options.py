"""Arguments several commands take alike."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.config.hyperparameters import decode_value

RAW = argparse.RawDescriptionHelpFormatter
"""The formatter of every command's help: descriptions and examples as written."""

BASE_DIR_HELP = (
    "job tree laid out like /opt/ml (created if missing; default: $SAGEMAKER_BASE_DIR, else /opt/ml when "
    "it holds a job, else a new ./rlrt-jobs/<name>-<time>)"
)


def user_path(text: str) -> Path:
    """A path argument as the user typed it, made absolute against the working folder (``~`` expanded): every
    later reader (RLlib reads checkpoints by URI) gets a path that does not depend on where it runs."""
    return Path(text).expanduser().absolute()


def key_value(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` as ``(KEY, VALUE)``, VALUE decoded as a hyperparameter (JSON if it parses, else the string)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise argparse.ArgumentTypeError(f"empty key in {text!r}")
    return key.strip(), decode_value(value)


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``."""
    parser.add_argument(
        "--set", dest="overrides", action="append", type=key_value, default=[], metavar="KEY=VALUE", help=help
    )
