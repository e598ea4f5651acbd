"""An iteration in which RLlib's env runners returned no samples (a slow game or simulator), and the first iterations
in which no episode ended (each says so once).

RLlib waits ``sample_timeout_s`` (60 s by default) for its env runners' ``sample()`` calls; when none returns in
time it logs "No samples returned from remote workers" and the iteration trains on nothing: its step count is 0 and
its episode metrics are missing. The job carries on; :class:`SampleTimeout` says why in one warning, with the
environment's speed measured here, and when the user has not chosen ``sample_timeout_s`` it sizes the timeout from
that speed so the next iterations get their batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, TextIO

import gymnasium

from envs.registry import env_info, make_env

SETTING = "sample_timeout_s"
MAX_TIMEOUT_S = 3600.0
"""rlrt never waits longer than this for one round of samples on its own account."""
PROBE_SECONDS = 2.0
PROBE_MAX_STEPS = 200


def measure_env_speed(
    env_id: str, env_config: Mapping[str, Any], seconds: float = PROBE_SECONDS, max_steps: int = PROBE_MAX_STEPS
) -> float:
    """Environment steps per second of one ``env_id`` built here, stepped with random actions for about
    ``seconds`` (at most ``max_steps`` steps); NaN when it cannot be measured."""
    try:
        env = make_env(env_id, dict(env_config))
    except Exception:  # noqa: BLE001 - a speed estimate is optional; the warning says it is unknown
        return math.nan
    try:
        observations, _ = env.reset(seed=0)
        steps = 0
        started = time.perf_counter()
        while steps < max_steps and time.perf_counter() - started < seconds:
            if env_info(env_id).multi_agent:
                agents: Any = env  # dicts by agent id (envs.unity.multi_agent)
                action: Any = {agent: agents.get_action_space(agent).sample() for agent in observations}
                observations, _, terminated, truncated, _ = agents.step(action)
                done = terminated.get("__all__", False) or truncated.get("__all__", False)
            else:
                observations, _, term, trunc, _ = env.step(env.action_space.sample())
                done = term or trunc
            steps += 1
            if done:
                observations, _ = env.reset()
        elapsed = time.perf_counter() - started
        return steps / elapsed if steps and elapsed > 0 else math.nan
    except Exception:  # noqa: BLE001
        return math.nan
    finally:
        env.close()


def episode_steps(env_id: str, env_config: Mapping[str, Any]) -> int | None:
    """The step limit of ``env_id``'s episodes: ``env_config``'s ``max_episode_steps``, else gymnasium's registered
    one (the environment is not built: a game or simulator would start); None when neither is known."""
    given = env_config.get("max_episode_steps")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    try:
        return gymnasium.spec(env_id).max_episode_steps
    except Exception:  # noqa: BLE001 - not a gymnasium id (a job's own env): the limit is not known here
        return None


@dataclass
class SampleTimeout:
    """Watches for iterations without samples, or without a finished episode; see the module docstring."""

    env_id: str
    env_config: Mapping[str, Any]
    user_set: bool
    """Whether the job's hyperparameters chose ``sample_timeout_s`` (then rlrt only advises)."""
    episodeless_said: bool = False

    def no_episode(self, algo: Any, iteration: int, steps_total: int, out: TextIO) -> None:
        """Say once that no episode has ended in the job's first ``iteration`` iterations (``steps_total`` env
        steps), and why: the episode figures stay NaN until one does."""
        if self.episodeless_said:
            return
        self.episodeless_said = True
        config = algo.config
        envs = max(1, int(config.num_env_runners or 0)) * max(1, int(config.num_envs_per_env_runner or 1))
        limit = episode_steps(self.env_id, self.env_config)
        lasts = f"its episodes last up to {limit} steps" if limit else "its episode length is not known here"
        print(
            f"rlrt: no episode of {self.env_id} has ended in {iteration} iteration(s): {steps_total} env steps "
            f"over {envs} environment(s) is {steps_total // envs} steps each, and {lasts}; the episode_reward_* "
            "figures stay NaN until one ends. Sample more steps per iteration (rl.training.config."
            "train_batch_size_per_learner; DQN and SAC: min_sample_timesteps_per_iteration) or run fewer "
            "environments (num_envs_per_env_runner).",
            file=out,
            flush=True,
        )

    def starved(self, algo: Any, iteration: int, out: TextIO) -> None:
        """Report iteration ``iteration``, which sampled nothing, and size the timeout when it is rlrt's to size."""
        config = algo.config
        timeout = float(getattr(config, SETTING, 0) or 0)
        speed = measure_env_speed(self.env_id, self.env_config)
        runners = max(1, int(getattr(config, "num_env_runners", 0) or 0))
        batch = int(config.train_batch_size_per_learner or config.train_batch_size or 0) * max(
            1, int(getattr(config, "num_learners", 0) or 0)
        )
        share = batch / runners
        needed = share / speed if math.isfinite(speed) and speed > 0 else math.nan
        measured = (
            f"the environment steps at about {speed:.3g} steps/s here, so one env runner's {share:.0f} steps "
            f"take about {needed:.3g} s"
            if math.isfinite(needed)
            else "the environment's speed could not be measured"
        )
        message = (
            f"rlrt: warning: iteration {iteration} sampled no environment steps: the env runners returned "
            f"nothing within {SETTING}={timeout:g} s; {measured}."
        )
        if self.user_set or not math.isfinite(needed):
            message += f" Raise rl.training.config.{SETTING} (or lower train_batch_size_per_learner); training goes on."
        else:
            chosen = min(MAX_TIMEOUT_S, max(2 * timeout, 2 * needed + 10))
            # RLlib reads the timeout from its (frozen) config every iteration; rlrt owns this value.
            object.__setattr__(config, SETTING, chosen)
            message += f" rlrt raises {SETTING} to {chosen:g} s for the next iterations."
        print(message, file=out, flush=True)
