"""``rlrt tune``: a hyperparameter search over training jobs (SageMaker HyperparameterTuner's grammar, on Ray
Tune)."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.commands.options import RAW, user_path
from runtime.plugins import INSTALLED
from runtime.tuning import run_tuning_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    tune = sub.add_parser(
        "tune",
        help="hyperparameter search over training jobs (SageMaker HyperparameterTuner's grammar, on Ray Tune)",
        description=(
            "Search hyperparameters: every trial is one training job (`rlrt train` in its own /opt/ml-like tree) "
            "with the static hyperparameters plus values sampled from the ranges; the objective "
            "(episode_reward_mean) is read from the job's metric lines each iteration. Strategies: Bayesian "
            "(Optuna's TPE), Random, Grid (categorical ranges, every combination once); early stopping ASHA. "
            "Writes tuning_results.csv and best_hyperparameters.json to the output folder. See docs/SCALING.md "
            "for the file format."
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
        formatter_class=RAW,
    )
    tune.add_argument("file", type=user_path, help="the tuning file (YAML or JSON)")
    tune.add_argument(
        "--output",
        type=user_path,
        default=None,
        help="a new folder for the trials' job trees and the results (default: ./rlrt-tune/<time>)",
    )
    tune.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    return run_tuning_job(args.file, args.output, plugins=INSTALLED)
