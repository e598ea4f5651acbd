"""``rlrt plot``: several runs' training curves on one figure (RL Zoo's plot_train.py / all_plots.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from runtime.commands.options import RAW
from runtime.errors import command_failure_file, run_job
from runtime.runs.plot import AXES, DEFAULT_OUTPUT, plot_runs


def add_parser(sub: argparse._SubParsersAction) -> None:
    plot = sub.add_parser(
        "plot",
        help="draw several runs' training curves (mean and spread over seeds) to a PNG",
        description=(
            "Draw the training curves of job trees (each its output/intermediate/progress.csv: episode_reward_mean, "
            "the mean return of the last 100 episodes) on one figure. Runs of one configuration (the same preset, "
            "environment, algorithm and settings, differing only in their seed) are one line, the mean over the "
            "seeds, with a band from the lowest to the highest seed (min - max); other configurations are lines of "
            "their own (RL Zoo's plot_train.py / all_plots.py)."
        ),
        epilog=(
            "examples:\n"
            "  rlrt train --seed 1 & rlrt train --seed 2 & rlrt train --seed 3 & wait\n"
            "  rlrt plot rlrt-jobs/cartpole-ppo-s*            # -> training_curves.png\n"
            "  rlrt plot rlrt-jobs/* -o runs.png --x time --csv runs.csv"
        ),
        formatter_class=RAW,
    )
    plot.add_argument(
        "trees",
        nargs="+",
        type=Path,
        metavar="TREE",
        help="a job tree `rlrt train` made (rlrt-jobs/<name>-<time>, or any tree laid out like /opt/ml)",
    )
    plot.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="FILE.png",
        help=f"the PNG to write (default: {DEFAULT_OUTPUT})",
    )
    plot.add_argument(
        "--x",
        choices=tuple(AXES),
        default="steps",
        help="the x axis: environment steps (timesteps_total, default) or training time (time_total_s)",
    )
    plot.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="also write the table drawn: per configuration and x, the runs, mean, min, max and std",
    )
    plot.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``rlrt plot`` through the one failure path (a command beside jobs: no failure file of its own)."""
    trees = [tree.expanduser().absolute() for tree in args.trees]
    table = args.csv.expanduser().absolute() if args.csv is not None else None
    return run_job(
        lambda: plot_runs(trees, args.output.expanduser().absolute(), args.x, table), failure_file=command_failure_file
    )
