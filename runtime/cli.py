"""``rlrt``: the command line of the runtime (also what the container's ``train`` runs)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from runtime.hyperparameters import PRESET, decode_value
from runtime.presets import DEFAULT_PRESET, all_presets


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise argparse.ArgumentTypeError(f"empty key in {text!r}")
    return key.strip(), decode_value(value)


def build_parser() -> argparse.ArgumentParser:
    """The ``rlrt`` parser; each command adds its own sub-parser below."""
    parser = argparse.ArgumentParser(
        prog="rlrt",
        description="Reinforcement-learning training container runtime (SageMaker RL compatible).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    train = sub.add_parser(
        "train",
        help="train a preset (the default with no arguments)",
        description=(
            "Train a preset. Inside SageMaker or `docker run IMAGE train` the job reads /opt/ml; elsewhere it "
            "creates ./rlrt-jobs/<preset>-<time>/ laid out like /opt/ml. Hyperparameters use SageMaker RL's "
            "grammar: preset, rl.training.config.<key>, rl.training.config.env_config.<key>, "
            "rl.training.stop.<key>."
        ),
        epilog=(
            "examples:\n"
            "  rlrt train\n"
            "  rlrt train --preset hopper-ppo --set rl.training.stop.time_total_s=600\n"
            "  rlrt train --set rl.training.config.num_sgd_iter=20 --set rl.training.config.lr=0.0001\n"
            "  rlrt train --base-dir ./myjob   # rerun later in the same folder to resume from its checkpoints"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--preset", help=f"preset name, alias or YAML file (default: {DEFAULT_PRESET})")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a hyperparameter, as SageMaker would pass it (VALUE is JSON if it parses, else a string); repeatable",
    )
    train.add_argument("--base-dir", type=Path, help="job tree laid out like /opt/ml (created if missing)")
    train.add_argument("--default-preset", default=DEFAULT_PRESET, help=argparse.SUPPRESS)

    sub.add_parser("presets", help="list the presets", description="List the shipped presets and their pass bars.")

    dr = sub.add_parser(
        "deepracer-evaluate",
        help="evaluate a DeepRacer model for NUMBER_OF_TRIALS laps, or race two models head to head",
        description=(
            "Drive a trained DeepRacer model (the /opt/ml/model folder of a deepracer-ppo job, or its model.tar.gz) "
            "for a number of trials and write output/intermediate/evaluation_metrics.json and an evaluation "
            "simtrace. With a second model (--opponent or the model_2 channel) the two race on one track and each "
            "gets its own metrics file (evaluation_metrics.json, evaluation_metrics_2.json). Settings "
            "(NUMBER_OF_TRIALS, WORLD_NAME, RACE_TYPE, NUMBER_OF_OBSTACLES, ...) come from hyperparameters or the "
            "train channel's evaluation_params.yaml."
        ),
        epilog=(
            "examples:\n"
            "  rlrt deepracer-evaluate --model rlrt-jobs/deepracer-ppo-20260101-000000/model --trials 5\n"
            "  rlrt deepracer-evaluate --model ./model_a --opponent ./model_b --set WORLD_NAME=curvy_loop\n"
            "  rlrt deepracer-evaluate --model ./model --set RACE_TYPE=OBJECT_AVOIDANCE --set NUMBER_OF_OBSTACLES=4"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dr.add_argument("--model", type=Path, help="model folder or model.tar.gz (default: the 'model' channel)")
    dr.add_argument("--opponent", type=Path, help="a second model for a head-to-head race (default: 'model_2' channel)")
    dr.add_argument("--trials", type=int, help="number of trials (default: NUMBER_OF_TRIALS, else 3)")
    dr.add_argument("--set", dest="overrides", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                    help="an evaluation setting as a hyperparameter (e.g. WORLD_NAME=oval); repeatable")
    dr.add_argument("--base-dir", type=Path, help="job tree laid out like /opt/ml (created if missing)")
    return parser


def _list_presets() -> int:
    rows = [(p.name, p.env, p.algorithm, f"{p.pass_bar.metric} >= {p.pass_bar.value:g}") for p in all_presets().values()]
    widths = [max(len(r[i]) for r in rows + [("preset", "env", "algorithm", "pass bar")]) for i in range(4)]
    for row in [("preset", "env", "algorithm", "pass bar"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlrt`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "presets":
        return _list_presets()
    if args.command == "deepracer-evaluate":
        from runtime.deepracer_eval import run_evaluation_job

        return run_evaluation_job(args.base_dir, args.model, args.opponent, args.trials, dict(args.overrides))
    from runtime.jobs import run_training_job

    overrides = dict(args.overrides)
    if args.preset:
        overrides[PRESET] = args.preset
    return run_training_job(args.base_dir, overrides, default_preset=args.default_preset)


if __name__ == "__main__":
    sys.exit(main())
