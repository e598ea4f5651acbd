"""``rlrt evaluate`` and its two aliases, one evaluator: ``evaluate-offline`` (a d3rlpy model; the Batch RL seed's
evaluate-coach.py) and ``deepracer-evaluate`` (laps or a head-to-head race)."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.commands.options import BASE_DIR_HELP, RAW, add_set_option, user_path
from runtime.evaluate.evaluator import run_evaluation_job
from runtime.plugins import INSTALLED

MODEL_HELP = "model folder or model.tar.gz (default: the 'model' channel)"


def add_parser(sub: argparse._SubParsersAction) -> None:
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
        formatter_class=RAW,
    )
    evaluate.add_argument(
        "--model", type=user_path, help="a job tree, model folder or model.tar.gz (default: the 'model' channel)"
    )
    evaluate.add_argument(
        "--checkpoint",
        metavar="N|PATH",
        help="play a checkpoint of the tree --model names instead: "
        "its iteration N, or the checkpoint folder's PATH (checkpoints/checkpoint_000010)",
    )
    add_set_option(
        evaluate,
        "a hyperparameter (evaluate_episodes, evaluate_steps, evaluate_max_episode_steps, "
        "algorithm, env, config, record_video_every, seed); repeatable",
    )
    evaluate.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)
    evaluate.set_defaults(run=run)

    offline = sub.add_parser(
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
        formatter_class=RAW,
    )
    offline.add_argument("--model", type=user_path, help=MODEL_HELP)
    add_set_option(offline, "a hyperparameter (evaluate_episodes, evaluate_steps, env, seed); repeatable")
    offline.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)
    offline.set_defaults(run=run)

    deepracer = sub.add_parser(
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
        formatter_class=RAW,
    )
    deepracer.add_argument("--model", type=user_path, help=MODEL_HELP)
    deepracer.add_argument(
        "--opponent", type=user_path, help="a second model for a head-to-head race (default: 'model_2' channel)"
    )
    deepracer.add_argument("--trials", type=int, help="number of trials (default: NUMBER_OF_TRIALS, else 3)")
    add_set_option(deepracer, "an evaluation setting as a hyperparameter (e.g. WORLD_NAME=oval); repeatable")
    deepracer.add_argument("--base-dir", type=user_path, help=BASE_DIR_HELP)
    deepracer.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    overrides = dict(args.overrides)
    if args.command == "evaluate-offline":
        return run_evaluation_job(
            args.base_dir, overrides, args.model, plugins=INSTALLED, framework="d3rlpy", hint="evaluate-offline"
        )
    if args.command == "deepracer-evaluate":
        return run_evaluation_job(
            args.base_dir,
            overrides,
            args.model,
            plugins=INSTALLED,
            env="DeepRacer-v0",
            hint="deepracer-evaluate",
            family_options={"opponent": args.opponent, "trials": args.trials},
        )
    return run_evaluation_job(args.base_dir, overrides, args.model, plugins=INSTALLED, checkpoint=args.checkpoint)
