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

    tune = sub.add_parser(
        "tune",
        help="hyperparameter search over training jobs (SageMaker HyperparameterTuner's grammar, on Ray Tune)",
        description=(
            "Search hyperparameters: every trial is one training job (`rlrt train` in its own /opt/ml-like tree) "
            "with the static hyperparameters plus values sampled from the ranges; the objective "
            "(episode_reward_mean) is read from the job's metric lines each iteration. Bayesian search uses "
            "Optuna's TPE, early stopping ASHA. Writes tuning_results.csv and best_hyperparameters.json to the "
            "output folder. See docs/SCALING.md for the file format."
        ),
        epilog=(
            "example tuning file (YAML or JSON, HyperparameterTuner's arguments):\n"
            "  objective_metric_name: episode_reward_mean\n"
            "  objective_type: Maximize\n"
            "  max_jobs: 8\n"
            "  max_parallel_jobs: 2\n"
            "  static_hyperparameters: {preset: cartpole-ppo, rl.training.stop.time_total_s: 120}\n"
            "  hyperparameter_ranges:\n"
            "    rl.training.config.kl_coeff: {type: Continuous, min_value: 0.5, max_value: 1.0}\n"
            "    rl.training.config.num_sgd_iter: {type: Integer, min_value: 3, max_value: 50}\n"
            "    rl.training.config.lr: {type: Continuous, min_value: 1e-5, max_value: 1e-2, "
            "scaling_type: Logarithmic}\n\n"
            "examples:\n"
            "  rlrt tune tuning.yaml\n"
            "  rlrt tune tuning.yaml --output ./tune-cartpole"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.add_argument("file", type=Path, help="the tuning file (YAML or JSON)")
    tune.add_argument("--output", type=Path, default=None,
                      help="folder for the trials' job trees and the results (default: ./rlrt-tune/<time>)")
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
    if args.command == "tune":
        from runtime.tuning import run_tuning_job

        return run_tuning_job(args.file, args.output)
    from runtime.jobs import run_training_job

    overrides = dict(args.overrides)
    if args.preset:
        overrides[PRESET] = args.preset
    return run_training_job(args.base_dir, overrides, default_preset=args.default_preset)


if __name__ == "__main__":
    sys.exit(main())
