"""What the offline subcommands of ``rlrt`` run (the CLI only parses; the work is here)."""

from __future__ import annotations

import argparse

from runtime.config.limits import ENV_CONFIG_KEYS, env_config_problems
from runtime.errors import UserError, command_failure_file, run_job
from runtime.offline.collect import collect, dump_states, model_policy, read_batch_transform_output
from runtime.stop_signals import STOPS


MAX_ENVS = 10_000
"""Environments ``rlrt collect`` runs side by side in one process: far past what one process steps usefully."""
MAX_EPISODES = 1_000_000


def _shown(value: int) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)"


def run_collect(args: argparse.Namespace) -> int:
    """``rlrt collect``: collect rollouts or dump states; errors go through the one failure path."""

    def job() -> int:
        for flag, value, most in (("--num-envs", args.num_envs, MAX_ENVS), ("--num-episodes", args.num_episodes,
                                                                            MAX_EPISODES)):
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

