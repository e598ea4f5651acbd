"""``rlrt presets``: list the shipped presets."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.config.presets import list_presets


def add_parser(sub: argparse._SubParsersAction) -> None:
    presets = sub.add_parser(
        "presets",
        help="list the presets",
        description="List the shipped presets, their pass bars and the other names they answer "
        "to (the seeds' names, e.g. preset-cartpole-ddqnbcq).",
    )
    presets.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return list_presets()
