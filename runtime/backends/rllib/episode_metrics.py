"""Exact episode numbers from RLlib's env runners.

An episode that crosses an iteration boundary reaches RLlib's ``on_episode_end`` as chunks (the earlier ones in
``prev_episode_chunks``). RLlib 2.x's own ``episode_len_mean`` / ``episode_return_mean`` add up the chunks' lengths
and returns, but on the local env runner (``num_env_runners: 0``) consecutive chunks overlap by one step (``(0, 76)``
then ``(75, 150)``), so such an episode counts one step, and its reward, twice: Reacher (150-step episodes) reported
``episode_len_mean: 150.2``. rlrt counts each timestep once, by the chunks' own timestep numbers, and logs per
iteration the sums the driver's window needs (:func:`runtime.train.reporting.metrics_from_rllib`).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from runtime.train.reporting import EPISODES, LENGTH_SUM, RETURN_MAX, RETURN_MIN, RETURN_SUM


def exact_episode(chunks: Iterable[tuple[int, Sequence[float]]]) -> tuple[int, float]:
    """``(length, return)`` of an episode given as its chunks, oldest first, each ``(t_started, rewards)``: reward
    ``k`` of a chunk is that of timestep ``t_started + k + 1``; a timestep in two chunks counts once (the first)."""
    counted = 0
    total = 0.0
    for started, rewards in chunks:
        for k, reward in enumerate(rewards):
            timestep = int(started) + k + 1
            if timestep > counted:
                total += float(reward)
                counted = timestep
    return counted, total


def on_episode_end(*, episode: Any, prev_episode_chunks: Any = None, metrics_logger: Any = None, **_: Any) -> None:
    """RLlib's ``on_episode_end``: log the finished episode's exact length and return (single-agent episodes; a
    multi-agent one keeps RLlib's numbers)."""
    if metrics_logger is None or not hasattr(episode, "t_started") or not hasattr(episode, "get_rewards"):
        return
    chunks = [*(prev_episode_chunks or []), episode]
    length, total = exact_episode((int(c.t_started), list(c.get_rewards())) for c in chunks)
    if not math.isfinite(total):
        return
    metrics_logger.log_value(EPISODES, 1, reduce="sum")
    metrics_logger.log_value(LENGTH_SUM, length, reduce="sum")
    metrics_logger.log_value(RETURN_SUM, total, reduce="sum")
    metrics_logger.log_value(RETURN_MAX, total, reduce="max")
    metrics_logger.log_value(RETURN_MIN, total, reduce="min")
