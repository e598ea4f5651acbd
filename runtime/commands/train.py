"""``rlrt train``: train a preset (what ``rlrt`` alone and the container's ``train`` run)."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Sequence

from runtime.commands.options import BASE_DIR_HELP, RAW, add_set_option, user_path
from runtime.config.hyperparameters import PRESET
from runtime.config.presets import DEFAULT_PRESET
from runtime.config.shorthands import add_shorthand_options, with_shorthands
from runtime.plugins import INSTALLED
from runtime.train.job import run_training_job
from sagemaker_rl.coach_preset_file import train_preset_file


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train a preset (the default with no arguments)",
        description=(
            "Train a preset. Inside SageMaker or `docker run IMAGE train` the job reads /opt/ml; elsewhere it "
            "creates a new ./rlrt-jobs/<preset>-<time>[-N]/ laid out like /opt/ml per launch (removed again when the "
            "job fails before training anything; the error is printed). Hyperparameters use SageMaker RL's "
            "grammar: preset, rl.training.config.<key>, rl.training.config.env_config.<key>, "
            "rl.training.stop.<key>."
        ),
        epilog=(
            "examples:\n"
            "  rlrt train\n"
            "  rlrt train --env Acrobot-v1 --algo dqn --seed 1 -n 100000   # = --set rl.training.env=Acrobot-v1 ...\n"
            "  rlrt train --preset hopper-ppo --set rl.training.stop.time_total_s=600\n"
            "  rlrt train --set rl.training.config.num_sgd_iter=20 --set rl.training.config.lr=0.0001\n"
            "  rlrt train --base-dir ./myjob   # rerun later in the same folder to resume from its checkpoints\n"
            "  rlrt train --base-dir ./myjob --preset unity-basic-ppo \\\n"
            "      --set rl.training.config.env_config.env_name=MyGame.x86_64   # a Unity player in "
            "myjob/input/data/train"
        ),
        formatter_class=RAW,
    )
    train.add_argument("--preset", help=f"preset name, alias or YAML file (default: {DEFAULT_PRESET})")
    add_set_option(
        train, "a hyperparameter, as SageMaker would pass it (VALUE is JSON if it parses, else a string); repeatable"
    )
    train.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)
    train.add_argument(
        "--hyperparameters",
        type=user_path,
        metavar="FILE",
        help="start from the hyperparameters in FILE: `rlrt tune`'s best_hyperparameters.json, a "
        "SageMaker hyperparameters.json or a JSON object (--set and --preset win over it)",
    )
    train.add_argument("--default-preset", default=DEFAULT_PRESET, help=argparse.SUPPRESS)
    add_shorthand_options(train)
    train.set_defaults(run=functools.partial(run, train))


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Train; ``parser`` (this command's) reports a short option and a ``--set`` that disagree."""
    overrides = with_shorthands(args, args.overrides, parser)
    if args.preset and args.preset.endswith(".py"):  # a Coach preset file: trained as its train-coach.py would
        return train_preset_file(Path(args.preset), args.base_dir, overrides)
    if args.preset:
        overrides[PRESET] = args.preset
    return run_training_job(
        args.base_dir,
        overrides,
        default_preset=args.default_preset,
        plugins=INSTALLED,
        hyperparameters_file=args.hyperparameters,
        force=args.force,
        console=args.console,
        command=list(argv),
    )
