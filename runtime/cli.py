"""``rlrt``: the command line of the runtime (also what the container's ``train`` runs)."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from runtime.arguments import SuggestingParser
from runtime.config.hyperparameters import PRESET, decode_value
from runtime.config.presets import DEFAULT_PRESET, list_presets
from runtime.config.shorthands import add_shorthand_options, with_shorthands
from runtime.errors import command_failure_file, run_job
from runtime.evaluate.evaluator import run_evaluation_job
from runtime.export.formats import describe_formats
from runtime.export.pipeline import CHECK_HELP, export_model_folder
from runtime.log_lines import configure_logging
from runtime.offline.cli import run_collect
from runtime.plugins import INSTALLED
from runtime.runs.plot import add_plot_parser, run_plot
from runtime.serving.server import run_server
from runtime.serving.transform import TransformOptions, run_transform
from runtime.stop_signals import run_command
from runtime.timings import mark
from runtime.train.job import run_training_job
from runtime.tuning import run_tuning_job
from sagemaker_rl.coach_launcher import train_preset_file


def user_path(text: str) -> Path:
    """A path argument as the user typed it, made absolute against the working folder (``~`` expanded): every
    later reader (RLlib reads checkpoints by URI) gets a path that does not depend on where it runs."""
    return Path(text).expanduser().absolute()


def _key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise argparse.ArgumentTypeError(f"empty key in {text!r}")
    return key.strip(), decode_value(value)


BASE_DIR_HELP = ("job tree laid out like /opt/ml (created if missing; default: $SAGEMAKER_BASE_DIR, else /opt/ml when "
                 "it holds a job, else a new ./rlrt-jobs/<name>-<time>)")


def build_parser() -> argparse.ArgumentParser:
    """The ``rlrt`` parser; each command adds its own sub-parser below."""
    parser = SuggestingParser(
        prog="rlrt",
        description="Reinforcement-learning training container runtime (SageMaker RL compatible).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    train.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)
    train.add_argument("--hyperparameters", type=user_path, metavar="FILE",
                       help="start from the hyperparameters in FILE: `rlrt tune`'s best_hyperparameters.json, a "
                            "SageMaker hyperparameters.json or a JSON object (--set and --preset win over it)")
    train.add_argument("--default-preset", default=DEFAULT_PRESET, help=argparse.SUPPRESS)
    add_shorthand_options(train)

    sub.add_parser("presets", help="list the presets",
                   description="List the shipped presets, their pass bars and the other names they answer to (the "
                               "seeds' names, e.g. preset-cartpole-ddqnbcq).")
    _add_collect_parser(sub)
    evaluate = sub.add_parser(
        "evaluate-offline",
        help="evaluate an offline-trained (d3rlpy) model (alias of `rlrt evaluate`; the seeds' evaluate-coach.py)",
        description=(
            "`rlrt evaluate` for a d3rlpy model in the job's 'model' channel (or the seeds' legacy 'checkpoint' "
            "channel), printing Coach-style 'Testing> ... Total reward=<x>,' lines per episode and the "
            "episode_reward_mean/max/min summary. Hyperparameters: evaluate_episodes, or the seeds' evaluate_steps "
            "(stop at the end of the episode that crosses N steps); env (default: the env in the model's "
            "metadata.json, or the preset's env); record_video_every (0: no videos); seed."
        ),
        epilog=(
            "examples:\n"
            "  SAGEMAKER_BASE_DIR=./evaljob rlrt evaluate-offline\n"
            "  rlrt evaluate-offline --base-dir ./evaljob   # model in ./evaljob/input/data/model/"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("--model", type=user_path, help="model folder or model.tar.gz (default: the 'model' channel)")
    evaluate.add_argument("--set", dest="overrides", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                          help="a hyperparameter (evaluate_episodes, evaluate_steps, env, seed); repeatable")
    evaluate.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)
    _add_serving_commands(sub)

    dr = sub.add_parser(
        "deepracer-evaluate",
        help="evaluate a DeepRacer model for NUMBER_OF_TRIALS laps, or race two models head to head "
             "(alias of `rlrt evaluate`)",
        description=(
            "`rlrt evaluate` for DeepRacer: drive a trained DeepRacer model (the /opt/ml/model folder of a "
            "deepracer-ppo job, or its model.tar.gz) for a number of trials and write "
            "output/intermediate/evaluation_metrics.json and an evaluation "
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
    dr.add_argument("--model", type=user_path, help="model folder or model.tar.gz (default: the 'model' channel)")
    dr.add_argument("--opponent", type=user_path, help="a second model for a head-to-head race (default: 'model_2' "
                                                       "channel)")
    dr.add_argument("--trials", type=int, help="number of trials (default: NUMBER_OF_TRIALS, else 3)")
    dr.add_argument("--set", dest="overrides", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                    help="an evaluation setting as a hyperparameter (e.g. WORLD_NAME=oval); repeatable")
    dr.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)

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
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.add_argument("file", type=user_path, help="the tuning file (YAML or JSON)")
    tune.add_argument("--output", type=user_path, default=None,
                      help="a new folder for the trials' job trees and the results (default: ./rlrt-tune/<time>)")
    add_plot_parser(sub)
    return parser


def _add_serving_commands(sub: argparse._SubParsersAction) -> None:
    """``serve``, ``transform``, ``evaluate`` and ``export``."""
    raw = argparse.RawDescriptionHelpFormatter
    serve = sub.add_parser(
        "serve",
        help="serve a model over HTTP (/ping, /invocations), as the image's `serve`",
        description=(
            "Serve a trained model's ONNX policy (gunicorn worker processes, each serving with hypercorn): GET "
            "/ping, POST /invocations (application/json TensorFlow-Serving style 'inputs' or 'instances', "
            "application/jsonlines, text/csv). Settings default "
            "to SageMaker's variables: SAGEMAKER_BIND_TO_PORT (8080), SAGEMAKER_MODEL_SERVER_WORKERS (CPUs), "
            "SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s)."
        ),
        epilog=(
            "examples:\n"
            "  rlrt serve                                  # /opt/ml/model (or $SAGEMAKER_BASE_DIR/model)\n"
            "  rlrt serve --model rlrt-jobs/cartpole-ppo-20260101-120000/model --port 8081\n"
            "  rlrt serve --model model.tar.gz --workers 4\n"
            "  curl -s localhost:8080/invocations -H 'Content-Type: application/json' \\\n"
            "       -d '{\"inputs\": {\"observations\": [[0.0, 0.1, 0.0, -0.1]]}}'"
        ),
        formatter_class=raw,
    )
    serve.add_argument("--model", type=user_path, help="model folder or model.tar.gz (default: "
                                                       "$SAGEMAKER_BASE_DIR/model)")
    serve.add_argument("--host", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default $SAGEMAKER_BIND_TO_PORT or 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default $SAGEMAKER_MODEL_SERVER_WORKERS or CPUs)")
    serve.add_argument("--timeout", type=int, help="worker timeout in s (default $SAGEMAKER_MODEL_SERVER_TIMEOUT or "
                                                   "60)")

    transform = sub.add_parser(
        "transform",
        help="Batch Transform a folder of JSON-lines or CSV files into .out files",
        description=(
            "Run a model over every file in INPUT (a file or folder) like SageMaker Batch Transform: each file F "
            "becomes OUTPUT/F.out with one output line per input line ({\"predictions\": [...]}; for discrete "
            "policies predictions[0] is the action-probability list)."
        ),
        epilog=(
            "examples:\n"
            "  rlrt transform --model job/model --input states/ --output predictions/\n"
            "  rlrt transform --model model.tar.gz --input states.jsonl --output out/ --join-source Input\n"
            "  rlrt transform --model job/model --input rows.csv --output out/ --accept text/csv --strategy "
            "SingleRecord"
        ),
        formatter_class=raw,
    )
    transform.add_argument("--model", type=user_path, help="model folder or model.tar.gz (default: "
                                                           "$SAGEMAKER_BASE_DIR/model)")
    transform.add_argument("--input", type=user_path, required=True, help="input file or folder")
    transform.add_argument("--output", type=user_path, required=True, help="output folder (created)")
    transform.add_argument("--content-type", help="application/jsonlines, text/csv or application/json (by extension)")
    transform.add_argument("--split-type", default="Line", help="Line (default) or None (a file is one request)")
    transform.add_argument("--strategy", default="MultiRecord", help="MultiRecord (default) or SingleRecord")
    transform.add_argument("--accept", help="application/jsonlines (default for Line), application/json or text/csv")
    transform.add_argument("--join-source", default="None", help="None (default) or Input (join outputs to inputs)")
    transform.add_argument("--max-payload-mb", type=float, default=6.0, help="MaxPayloadInMB (default 6)")
    transform.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = sub.add_parser(
        "evaluate",
        help="evaluate any trained model in its environment (the seeds' evaluate-ray/-unity/-coach.py)",
        description=(
            "Play a model (RLlib, d3rlpy, or any with an ONNX policy) from the 'model' channel (or the legacy "
            "'checkpoint' channel; a folder or model.tar.gz) for evaluate_episodes episodes, or evaluate_steps "
            "steps; print 'Episode reward: <x>. Episode steps: <n>', Coach 'Testing>' lines and "
            "episode_reward_mean, write output/intermediate/evaluation.json and videos (a model in a job tree, with no "
            "tree named: beside it, in <tree>/output/evaluation/<time>/). A Unity game is found in the "
            "'train' channel; a DeepRacer model races its laps (evaluation_metrics.json). Hyperparameters: "
            "evaluate_episodes, evaluate_steps, evaluate_max_episode_steps (an episode's step budget: the env's own "
            "limit, else 10000), algorithm, env, config, record_video_every (0: no videos), seed."
        ),
        epilog=(
            "examples:\n"
            "  rlrt evaluate --model rlrt-jobs/reacher-ppo-20260101-120000 --set evaluate_episodes=3\n"
            "  rlrt evaluate --model rlrt-jobs/reacher-ppo-20260101-120000 --checkpoint 10   # its iteration 10\n"
            "  rlrt evaluate --base-dir /opt/ml              # model channel input/data/model, hyperparameters.json"
        ),
        formatter_class=raw,
    )
    evaluate.add_argument("--model", type=user_path, help="a job tree, model folder or model.tar.gz (default: the "
                                                          "'model' channel)")
    evaluate.add_argument("--checkpoint", metavar="N|PATH", help="play a checkpoint of the tree --model names instead: "
                          "its iteration N, or the checkpoint folder's PATH (checkpoints/checkpoint_000010)")
    evaluate.add_argument("--set", dest="overrides", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                          help="a hyperparameter (evaluate_episodes, evaluate_steps, evaluate_max_episode_steps, "
                               "algorithm, env, config, record_video_every, seed); repeatable")
    evaluate.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)

    export = sub.add_parser(
        "export",
        help="(re)write the serving exports of a model folder (RLlib or d3rlpy)",
        description=f"Write the serving exports, {describe_formats()}, for a model folder from its checkpoint, "
                    "as training does at its end (the TensorFlow SavedModel when RLRT_TF_PYTHON is set).",
        epilog="example:\n  RLRT_TF_PYTHON=$(scripts/install-tf.sh)/bin/python rlrt export --model-dir job/model",
        formatter_class=raw)
    export.add_argument("--model-dir", type=user_path, required=True, help="a model folder written by `rlrt train`")
    export.add_argument("--check", action="store_true", help=CHECK_HELP)


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
            "  rlrt collect --env CartPole-v0 --num-envs 100 --seed 7 --policy-file states.jsonl.out --output "
            "next.csv\n"
            "  rlrt collect --env CartPole-v0 --num-envs 100 --model job/model --output next.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    collect.add_argument("--env", default="CartPole-v0", help="environment id (default: CartPole-v0, the seed's)")
    collect.add_argument("--num-envs", type=int, default=100, help="environments run side by side (default: 100)")
    collect.add_argument("--num-episodes", type=int, default=5, help="episodes collected from each env (default: 5)")
    collect.add_argument("--seed", type=int, default=0, help="env i is reset with seed+i; actions are drawn from a "
                                                             "generator seeded with it")
    collect.add_argument("--output", type=user_path, default=Path("rollouts.csv"), help="output file, .csv or .parquet "
                                                                                        "(default: rollouts.csv)")
    policy = collect.add_mutually_exclusive_group()
    policy.add_argument("--probabilities", type=decode_value, metavar="JSON",
                        help="action probabilities: one list for every env ('[0.5, 0.5]') or one per env; default "
                             "uniform")
    policy.add_argument("--policy-file", type=user_path, metavar="FILE",
                        help="a Batch Transform output (JSON lines with 'predictions' or "
                             "'SageMakerOutput.predictions'): "
                             "line i gives env i's action probabilities (one line applies to every env)")
    policy.add_argument("--model", type=user_path, metavar="MODEL",
                        help="a trained model (folder or model.tar.gz) gives the action probabilities at every step, "
                             "as the seed's per-step Batch Transform loop does (discrete actions)")
    collect.add_argument("--env-config", type=decode_value, default={}, metavar="JSON", help="keyword arguments for "
                                                                                             "the environment")
    collect.add_argument("--dump-states", type=user_path, metavar="FILE",
                         help="only reset the envs and write their states, one JSON list per line, to FILE")
    collect.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_serving_command(args: argparse.Namespace) -> int:
    run = functools.partial(run_job, failure_file=command_failure_file)  # beside jobs: no failure file of its own
    if args.command == "serve":
        return run(lambda: run_server(args.model, args.host, args.port, args.workers, args.timeout))
    if args.command == "transform":
        options = TransformOptions(args.content_type, args.split_type, args.strategy, args.accept, args.join_source,
                                   args.max_payload_mb)
        return run(lambda: run_transform(args.model, args.input, args.output, options, not args.no_progress))
    return run(lambda: (export_model_folder(args.model_dir, INSTALLED, check=args.check), 0)[1])


def _run_evaluation(args: argparse.Namespace) -> int:
    """``rlrt evaluate`` and its aliases, one evaluator (evaluate-offline: a d3rlpy model; deepracer-evaluate)."""
    overrides = dict(args.overrides)
    if args.command == "evaluate-offline":
        return run_evaluation_job(args.base_dir, overrides, args.model, plugins=INSTALLED, framework="d3rlpy",
                                  hint="evaluate-offline")
    if args.command == "deepracer-evaluate":
        return run_evaluation_job(args.base_dir, overrides, args.model, plugins=INSTALLED, env="DeepRacer-v0",
                                  hint="deepracer-evaluate",
                                  family_options={"opponent": args.opponent, "trials": args.trials})
    return run_evaluation_job(args.base_dir, overrides, args.model, plugins=INSTALLED, checkpoint=args.checkpoint)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlrt`` console script."""
    mark("cli")
    given, parser = list(sys.argv[1:] if argv is None else argv), build_parser()
    args = parser.parse_args(given or ["train"])  # `rlrt` alone trains the default preset, as --help says
    configure_logging()
    if args.command == "presets":
        return list_presets()
    if args.command in ("evaluate", "evaluate-offline", "deepracer-evaluate"):
        return _run_evaluation(args)
    if args.command in ("serve", "transform", "export"):
        return _run_serving_command(args)
    if args.command == "collect":
        return run_collect(args)
    if args.command == "tune":
        return run_tuning_job(args.file, args.output, plugins=INSTALLED)
    if args.command == "plot":
        return run_plot(args)
    overrides = with_shorthands(args, args.overrides, parser)
    if args.preset and args.preset.endswith(".py"):  # a Coach preset file: trained as its train-coach.py would
        return train_preset_file(Path(args.preset), args.base_dir, overrides)
    if args.preset:
        overrides[PRESET] = args.preset
    return run_training_job(args.base_dir, overrides, default_preset=args.default_preset, plugins=INSTALLED,
                            hyperparameters_file=args.hyperparameters, force=args.force, console=args.console,
                            command=given)


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The process entry point (``rlrt``, ``python -m runtime.cli``): :func:`main` (SIGTERM/SIGINT handled from here to
    exit: runtime.stop_signals), then the interpreter's normal exit with its code (a user's code may have run in this
    process, e.g. a script that registered its own environment, and what it left open is flushed)."""
    sys.exit(run_command(lambda: main(argv)))


if __name__ == "__main__":
    run()
