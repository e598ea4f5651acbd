"""Episode returns and lengths as gymnasium counts them, however RLlib cuts the episode.

Every single-agent training environment is wrapped in gymnasium's own ``RecordEpisodeStatistics`` (its statistics
under the info key :data:`EPISODE_INFO`), and the env runners' ``on_episode_end`` logs each finished episode's
``(return, length)`` from its last info, one item per episode (:data:`runtime.backends.rllib.results.EPISODES`).
RLlib's own ``episode_return_mean`` / ``episode_len_mean`` add up the chunks an episode was cut into at iteration
boundaries, and on the local env runner (``num_env_runners: 0``) the learner's connector has by then appended an
artificial bootstrap step (reward 0) to every chunk it trained on: a 150-step episode cut twice counts 152 steps.
The environment's own count does not depend on the chunks, the runner layout or the vectorisation. A multi-agent
episode (no single gymnasium env to wrap) is added up from the chunks RLlib hands ``on_episode_end``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import gymnasium

from runtime.backends.rllib.finite_values import NON_FINITE, first_non_finite, non_finite_advice
from runtime.backends.rllib.results import EPISODES

EPISODE_INFO = "rlrt_episode"
"""The info key gymnasium's ``RecordEpisodeStatistics`` writes each finished episode's ``{"r", "l", "t"}`` under
(not its default ``episode``, which a user's own env or wrapper may already use)."""


def with_episode_statistics(env: Any) -> Any:
    """``env`` wrapped in gymnasium's ``RecordEpisodeStatistics`` when it is a single-agent gymnasium env (its vector
    version for a vectorised env; a multi-agent env's episodes are counted from RLlib's chunks of them). Called once
    per env (or vectorised env), by the env creator RLlib is given."""
    from ray.rllib.env.multi_agent_env import MultiAgentEnv  # heavy: RLlib (loaded in every env runner anyway)

    if isinstance(env, gymnasium.vector.VectorEnv):  # each env's episodes, in the info RLlib splits by env
        return gymnasium.wrappers.vector.RecordEpisodeStatistics(env, stats_key=EPISODE_INFO)
    if not isinstance(env, gymnasium.Env) or isinstance(env, MultiAgentEnv):
        return env
    return gymnasium.wrappers.RecordEpisodeStatistics(env, stats_key=EPISODE_INFO)


def finished_episode(info: Any) -> tuple[float, int] | None:
    """``(return, length)`` of the episode whose last info is ``info``; None without the statistics."""
    stats = info.get(EPISODE_INFO) if isinstance(info, Mapping) else None
    if not isinstance(stats, Mapping) or "r" not in stats or "l" not in stats:
        return None
    return float(stats["r"]), int(stats["l"])


def on_episode_end(*, episode: Any, metrics_logger: Any = None, prev_episode_chunks: Any = (), **_: Any) -> None:
    """RLlib's ``on_episode_end``: log the finished episode's return and length, as gymnasium counted them (a
    single-agent env), or as the sum over the episode's chunks (a multi-agent env)."""
    if metrics_logger is None or not hasattr(episode, "get_infos"):
        return
    last_info = None if hasattr(episode, "agent_episodes") else episode.get_infos(-1)
    if isinstance(last_info, Mapping) and NON_FINITE in last_info:  # its return is not the environment's
        metrics_logger.log_value(NON_FINITE, last_info[NON_FINITE], reduce="item_series")
        return
    if hasattr(episode, "agent_episodes"):
        problem = multi_agent_non_finite([*(prev_episode_chunks or ()), episode])
        if problem is not None:
            metrics_logger.log_value(NON_FINITE, problem, reduce="item_series")
            return
        finished: tuple[float, int] | None = multi_agent_episode(episode, prev_episode_chunks or ())
    else:
        finished = finished_episode(last_info)
    if finished is None or not math.isfinite(finished[0]):
        return
    metrics_logger.log_value(EPISODES, finished, reduce="item_series")


def multi_agent_episode(last: Any, earlier: Any) -> tuple[float, int]:
    """``(return, length)`` of a finished multi-agent episode from its chunks (RLlib passes those sampled in earlier
    iterations as ``prev_episode_chunks``): the sum of every agent's rewards, and the env steps. RLlib's own
    ``episode_return_mean`` is a mean over its last ``metrics_num_episodes_for_smoothing`` episodes, not the
    episodes of one iteration, so it cannot be smoothed again into rlrt's window."""
    chunks = [*earlier, last]
    return math.fsum(float(chunk.get_return()) for chunk in chunks), sum(len(chunk) for chunk in chunks)


def multi_agent_non_finite(chunks: Any) -> str | None:
    """The message about the first non-finite reward or observation of a finished multi-agent episode (its
    ``chunks``), or None. A multi-agent env has no single gymnasium env for the per-step check
    (:mod:`runtime.backends.rllib.finite_values`) to wrap, so it is looked for once per episode, at its end: the job
    stops after that iteration, before anything of it is saved, naming the agent, its step and the value."""
    for chunk in chunks:
        for agent, single in dict(getattr(chunk, "agent_episodes", None) or {}).items():
            for what, values in (("reward", single.get_rewards()), ("observation", single.get_observations())):
                for step, value in enumerate(values):
                    found = first_non_finite(float(value) if what == "reward" else value)
                    if found is not None:
                        value = (
                            f"the reward {found[1]!r}"
                            if what == "reward"
                            else f"an observation with {found[1]!r} at observation{found[0]}"
                        )
                        at = single.t_started + step + (what == "reward")  # rewards follow steps 1, 2, ...
                        when = f"on its step {at} of the episode" if at else "from reset()"
                        return (
                            f"The multi-agent environment returned {value} for agent {agent!r} {when}. "
                            f"{non_finite_advice(what)}"
                        )
    return None
