"""``rlrt train``'s short options in the style of RL Zoo (``--algo ppo --env CartPole-v1 --seed 1 -n 50000``): each is
one ``rl.training.*`` hyperparameter, so the job sees them exactly as it sees ``--set`` (one path, one check)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Iterable, NamedTuple

from runtime.config.hyperparameters import ENV, RUN, SEED, TRACK
from runtime.config.stop import STOP_PREFIX, STOP_TIMESTEPS_TOTAL
from runtime.train.reporting import LINES, QUIET


class Shorthand(NamedTuple):
    flags: tuple[str, ...]
    dest: str
    key: str
    """The hyperparameter the option sets."""
    kind: type
    metavar: str
    help: str


SHORTHANDS = (
    Shorthand(
        ("--algo",),
        "algo",
        RUN,
        str,
        "ALGO",
        "the algorithm, e.g. ppo, dqn, sac (= --set rl.training.run=ALGO; case does not matter)",
    ),
    Shorthand(
        ("--env",),
        "env",
        ENV,
        str,
        "ID",
        "the environment: a gymnasium id such as CartPole-v1 or an rlrt name "
        "(= --set rl.training.env=ID); without --preset, an env a shipped preset is tuned for trains with that "
        "preset (HopperBulletEnv-v0: hopper-ppo); any other names the tree, stops at gymnasium's "
        "reward_threshold for it, and the algorithm gets settings chosen from its spaces (RL Zoo's; one line "
        "names them)",
    ),
    Shorthand(("--seed",), "seed", SEED, int, "N", "the random seed (= --set seed=N)"),
    Shorthand(
        ("--timesteps", "-n"),
        "timesteps",
        STOP_PREFIX + STOP_TIMESTEPS_TOTAL,
        int,
        "N",
        "stop after N environment steps (= --set rl.training.stop.timesteps_total=N)",
    ),
    Shorthand(
        ("--track",),
        "track",
        TRACK,
        str,
        "TRACKER",
        "also track the run with mlflow or wandb (= --set "
        "track=mlflow): settings, every iteration's metrics and the model folder; MLflow in "
        "$MLFLOW_TRACKING_URI or else a SQLite store beside the job's tree (rlrt-jobs/mlflow.db), W&B offline "
        "(unless $WANDB_MODE) in rlrt-jobs/wandb/; TensorBoard's logs are written either way",
    ),
)


def add_shorthand_options(parser: argparse.ArgumentParser) -> None:
    """Add :data:`SHORTHANDS`, ``--force`` and ``--quiet`` / ``--verbose`` (``console``) to ``rlrt train``'s
    parser."""
    for option in SHORTHANDS:
        parser.add_argument(*option.flags, dest=option.dest, type=option.kind, metavar=option.metavar, help=option.help)
    parser.add_argument(
        "--force",
        action="store_true",
        help="start the job tree afresh (remove its checkpoints, model, outputs and stored "
        "hyperparameters) instead of resuming it",
    )
    console = parser.add_mutually_exclusive_group()
    console.add_argument(
        "--quiet",
        "-q",
        dest="console",
        action="store_const",
        const=QUIET,
        help="print no line per iteration (in a terminal the progress bar stays; progress.csv and "
        "TensorBoard get every number)",
    )
    console.add_argument(
        "--verbose",
        "-v",
        dest="console",
        action="store_const",
        const=LINES,
        help="print every iteration's metric lines, as a log gets them (in a terminal: one line per iteration)",
    )


def with_shorthands(
    args: argparse.Namespace, given: Iterable[tuple[str, Any]], parser: argparse.ArgumentParser
) -> dict[str, Any]:
    """The ``--set`` pairs ``given`` with the short options ``args`` holds added as hyperparameters. An option and a
    ``--set`` that give one hyperparameter different values are a usage error naming both (``parser.error``: exit 2,
    before any job tree is made)."""
    overrides = dict(given)
    for option in SHORTHANDS:
        value = getattr(args, option.dest, None)
        if value is None:
            continue
        if option.key in overrides and overrides[option.key] != value:
            parser.error(
                f"{option.flags[0]} {value} and --set {option.key}={json.dumps(overrides[option.key])} give "
                f"{option.key} two values: give one of them"
            )
        overrides[option.key] = value
    return overrides
