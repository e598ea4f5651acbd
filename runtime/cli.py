"""``rlrt``: the command line of the runtime (also what the container's ``train`` runs). Each command is a module of
:mod:`runtime.commands` (its parser and its ``run``); :data:`COMMANDS` lists them in the order ``--help`` shows."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Sequence

from runtime.arguments import SuggestingParser
from runtime.commands import collect, evaluate, export, plot, presets, serve, train, transform, tune
from runtime.log_lines import configure_logging
from runtime.stop_signals import run_command
from runtime.timings import mark

COMMANDS = (train, presets, collect, evaluate, serve, transform, export, tune, plot)
"""The command modules; each adds its sub-parser(s) with ``run`` as the parser's default."""


def build_parser() -> argparse.ArgumentParser:
    """The ``rlrt`` parser: one sub-parser per command (or alias)."""
    parser = SuggestingParser(
        prog="rlrt",
        description="Reinforcement-learning training container runtime (SageMaker RL compatible).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlrt`` console script."""
    mark("cli")
    given = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(given or ["train"])  # `rlrt` alone trains the default preset, as --help says
    configure_logging()
    return int(args.run(args, given))


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The process entry point (``rlrt``, ``python -m runtime.cli``): :func:`main` (SIGTERM/SIGINT handled from here to
    exit: runtime.stop_signals), then the interpreter's normal exit with its code (a user's code may have run in this
    process, e.g. a script that registered its own environment, and what it left open is flushed)."""
    sys.exit(run_command(lambda: main(argv)))


if __name__ == "__main__":
    run()
