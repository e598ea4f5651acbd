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
    _add_collect_parser(sub)
    evaluate = sub.add_parser(
        "evaluate-offline",
        help="evaluate an offline-trained (d3rlpy) model from the model channel in its environment",
        description=(
            "Evaluate the d3rlpy model in the job's 'model' channel (or the seeds' legacy 'checkpoint' channel) in an "
            "environment, printing Coach-style 'Testing> ... Total reward=<x>,' lines per episode and the "
            "episode_reward_mean/max/min summary. Hyperparameters: evaluate_episodes, or the seeds' evaluate_steps; "
            "env (default: the env in the model's metadata.json, or the preset's env); seed."
        ),
        epilog=(
            "examples:\n"
            "  SAGEMAKER_BASE_DIR=./evaljob rlrt evaluate-offline\n"
            "  rlrt evaluate-offline --base-dir ./evaljob   # model in ./evaljob/input/data/model/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("--base-dir", type=Path, help="job tree laid out like /opt/ml (default: $SAGEMAKER_BASE_DIR or /opt/ml)")
    return parser


def _add_collect_parser(sub: argparse._SubParsersAction) -> None:
    collect = sub.add_parser(
        "collect",
        help="collect offline rollouts (Batch RL) under a behaviour policy given as action probabilities",
        description=(
            "Run N environments side by side under a behaviour policy given as action probabilities (uniform random, "
            "a fixed list, or the predictions of a Batch Transform job) and write the rollouts in the Batch RL "
            "seed's CSV format (action, all_action_probabilities, episode_id, reward, cumulative_rewards, "
            "state_feature_0..k) or as Parquet; or, with --dump-states, write the envs' first states as JSON lines "
            "for Batch Transform. The same --seed gives the same rollouts, and the states --dump-states writes are "
            "the first states a collection with that seed starts from."
        ),
        epilog=(
            "examples:\n"
            "  rlrt collect --env CartPole-v0 --num-envs 100 --num-episodes 5 --output data/cartpole.csv\n"
            "  rlrt collect --env CartPole-v0 --probabilities '[0.7, 0.3]' --output skewed.parquet\n"
            "  rlrt collect --env CartPole-v0 --num-envs 100 --dump-states states.jsonl --seed 7\n"
            "  rlrt collect --env CartPole-v0 --num-envs 100 --seed 7 --policy-file states.jsonl.out --output next.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    collect.add_argument("--env", default="CartPole-v0", help="environment id (default: CartPole-v0, the seed's)")
    collect.add_argument("--num-envs", type=int, default=100, help="environments run side by side (default: 100)")
    collect.add_argument("--num-episodes", type=int, default=5, help="episodes collected from each env (default: 5)")
    collect.add_argument("--seed", type=int, default=0, help="env i is reset with seed+i; actions are drawn from a generator seeded with it")
    collect.add_argument("--output", type=Path, default=Path("rollouts.csv"), help="output file, .csv or .parquet (default: rollouts.csv)")
    policy = collect.add_mutually_exclusive_group()
    policy.add_argument("--probabilities", type=decode_value, metavar="JSON",
                        help="action probabilities: one list for every env ('[0.5, 0.5]') or one per env; default uniform")
    policy.add_argument("--policy-file", type=Path, metavar="FILE",
                        help="a Batch Transform output (JSON lines with 'predictions' or 'SageMakerOutput.predictions'): "
                             "line i gives env i's action probabilities (one line applies to every env)")
    collect.add_argument("--env-config", type=decode_value, default={}, metavar="JSON", help="keyword arguments for the environment")
    collect.add_argument("--dump-states", type=Path, metavar="FILE",
                         help="only reset the envs and write their states, one JSON list per line, to FILE")
    collect.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    if args.command == "collect":
        from runtime.offline.cli import run_collect

        return run_collect(args)
    if args.command == "evaluate-offline":
        from runtime.offline.evaluate import evaluate_model_job

        return evaluate_model_job(args.base_dir)
    from runtime.jobs import run_training_job

    overrides = dict(args.overrides)
    if args.preset:
        overrides[PRESET] = args.preset
    return run_training_job(args.base_dir, overrides, default_preset=args.default_preset)


if __name__ == "__main__":
    sys.exit(main())
