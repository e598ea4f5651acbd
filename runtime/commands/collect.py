"""``rlrt collect``: offline rollouts (Batch RL) under a behaviour policy given as action probabilities, or the
envs' first states for Batch Transform."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from runtime.commands.options import RAW, user_path
from runtime.config.hyperparameters import decode_value
from runtime.config.limits import ENV_CONFIG_KEYS, env_config_problems
from runtime.errors import UserError, command_failure_file, run_job
from runtime.offline.collect import collect, dump_states, model_policy, read_batch_transform_output
from runtime.stop_signals import STOPS

MAX_ENVS = 10_000
"""Environments ``rlrt collect`` runs side by side in one process: far past what one process steps usefully."""
MAX_EPISODES = 1_000_000


def add_parser(sub: argparse._SubParsersAction) -> None:
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
        formatter_class=RAW,
    )
    collect.add_argument("--env", default="CartPole-v0", help="environment id (default: CartPole-v0, the seed's)")
    collect.add_argument("--num-envs", type=int, default=100, help="environments run side by side (default: 100)")
    collect.add_argument("--num-episodes", type=int, default=5, help="episodes collected from each env (default: 5)")
    collect.add_argument(
        "--seed",
        type=int,
        default=0,
        help="env i is reset with seed+i; actions are drawn from a generator seeded with it",
    )
    collect.add_argument(
        "--output",
        type=user_path,
        default=Path("rollouts.csv"),
        help="output file, .csv or .parquet (default: rollouts.csv)",
    )
    policy = collect.add_mutually_exclusive_group()
    policy.add_argument(
        "--probabilities",
        type=decode_value,
        metavar="JSON",
        help="action probabilities: one list for every env ('[0.5, 0.5]') or one per env; default uniform",
    )
    policy.add_argument(
        "--policy-file",
        type=user_path,
        metavar="FILE",
        help="a Batch Transform output (JSON lines with 'predictions' or "
        "'SageMakerOutput.predictions'): "
        "line i gives env i's action probabilities (one line applies to every env)",
    )
    policy.add_argument(
        "--model",
        type=user_path,
        metavar="MODEL",
        help="a trained model (folder or model.tar.gz) gives the action probabilities at every step, "
        "as the seed's per-step Batch Transform loop does (discrete actions)",
    )
    collect.add_argument(
        "--env-config", type=decode_value, default={}, metavar="JSON", help="keyword arguments for the environment"
    )
    collect.add_argument(
        "--dump-states",
        type=user_path,
        metavar="FILE",
        help="only reset the envs and write their states, one JSON list per line, to FILE",
    )
    collect.add_argument("--no-progress", action="store_true", help="no progress bar")
    collect.set_defaults(run=run)


def _shown(value: int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)"


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """``rlrt collect``: collect rollouts or dump states; errors go through the one failure path."""

    def job() -> int:
        for flag, value, most in (
            ("--num-envs", args.num_envs, MAX_ENVS),
            ("--num-episodes", args.num_episodes, MAX_EPISODES),
        ):
            if not 1 <= value <= most:  # a 20-digit --num-envs built environments until memory ran out
                raise UserError(f"{flag} must be 1-{most:,}, got {_shown(value)}.")
        if args.seed is not None and not 0 <= args.seed < 2**63:  # numpy's and gymnasium's seeds are non-negative
            raise UserError(f"--seed must be a whole number from 0 to 2**63 - 1, got {_shown(args.seed)}.")
        if not isinstance(args.env_config, dict):
            raise UserError(f"--env-config must be a JSON object, got {args.env_config!r}.")
        problems = env_config_problems({k: args.env_config[k] for k in ENV_CONFIG_KEYS if k in args.env_config})
        if problems:  # the check `rlrt train` makes of the same keys (gymnasium only asserts it, or ignores it)
            raise UserError(f"--env-config: {'; '.join(problems)}.")
        if args.dump_states is not None:
            count = dump_states(args.env, args.num_envs, args.dump_states, seed=args.seed, env_config=args.env_config)
            print(f"rlrt: wrote {count} states of {args.env} to {args.dump_states}", flush=True)
            return 0
        probabilities = args.probabilities
        source = "--probabilities"
        policy = None
        if args.model is not None:
            policy = model_policy(args.model, args.env)
            source = f"--model {args.model}"
        elif args.policy_file is not None:
            probabilities = read_batch_transform_output(args.policy_file)
            source = str(args.policy_file)
        elif probabilities is not None and not isinstance(probabilities, list):
            raise UserError(f"--probabilities must be a JSON list such as [0.5, 0.5], got {args.probabilities!r}.")
        with STOPS.phase_of("collecting rollouts"):
            summary = collect(
                args.env,
                args.num_envs,
                args.num_episodes,
                args.output,
                probabilities=probabilities,
                seed=args.seed,
                env_config=args.env_config,
                progress=not args.no_progress,
                probabilities_source=source,
                policy=policy,
            )
        print(
            f"rlrt: collected {summary.episodes} episodes ({summary.rows} steps) from {summary.num_envs} envs of "
            f"{args.env}; mean return {summary.mean_return:.2f}; wrote {summary.path}",
            flush=True,
        )
        return 0

    with STOPS.handling():  # SIGTERM/SIGINT: one line, exit 143/130, no output file (written whole or not at all)
        return run_job(job, command_failure_file)
