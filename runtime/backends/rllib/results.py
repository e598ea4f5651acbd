"""RLlib's (new API stack) result dict read into rlrt's :class:`runtime.train.reporting.IterationMetrics`: its
learner statistics, its evaluation, and episode numbers over the last episodes (:class:`EpisodeWindow`), counted from
the episodes rlrt's callback logs (:mod:`runtime.backends.rllib.episode_metrics`)."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Iterable, Mapping, Sequence

from runtime.train.reporting import IterationMetrics, float_or_nan


LEARNER_STATS: Mapping[str, tuple[str, ...]] = {
    "policy_loss": ("policy_loss", "actor_loss"),
    "value_loss": ("vf_loss", "qf_loss", "critic_loss"),
    "entropy": ("entropy",),
    "kl": ("rlrt_kl", "mean_kl_loss"),  # RLlib's own is a constant 0 unless its KL penalty is on
    "clip_fraction": ("rlrt_clip_fraction",),
    "explained_variance": ("vf_explained_var",),
    "learning_rate": ("default_optimizer_learning_rate",),
}
"""IterationMetrics' learner fields and the RLlib 2.x learner-result keys they come from (first found)."""


def learner_stats(result: Mapping[str, Any]) -> dict[str, float]:
    """The learner statistics of an RLlib result (its first module's, the default policy's when there is one)."""
    learners = result.get("learners") or {}
    modules = {k: v for k, v in learners.items() if isinstance(v, Mapping) and k != "__all_modules__"}
    stats = modules.get("default_policy") or next(iter(modules.values()), {})
    found: dict[str, float] = {}
    for field_name, keys in LEARNER_STATS.items():
        value = next((stats[k] for k in keys if k in stats), None)
        found[field_name] = float_or_nan(value)
    return found


EPISODES = "rlrt_episodes"
"""The per-iteration list of finished episodes' ``(return, length)`` rlrt's RLlib callback logs
(runtime.backends.rllib.episode_metrics)."""


class EpisodeWindow:
    """The last ``size`` finished episodes, as Stable-Baselines3's ``ep_rew_mean`` and RLlib 1.x smooth them.

    RLlib 2.x reports the returns of the episodes that ended *in this iteration* (none at all when a CartPole policy
    balances longer than one train batch), while the seeds' stop criteria (``episode_reward_mean: 18``) and SB3's
    ``ep_rew_mean`` mean the last 100 episodes. The window keeps each episode's return and length, in the order the
    iterations reported them (within an iteration: env runner by env runner, each in the order its episodes
    ended); an iteration in which no episode ended leaves it as it was.
    """

    def __init__(self, size: int = 100, episodes: Iterable[Sequence[float]] = ()) -> None:
        self.size = max(1, int(size))
        self.episodes: deque[tuple[float, float]] = deque(maxlen=self.size)
        self.add(episodes)

    def add(self, episodes: Iterable[Sequence[float]]) -> None:
        """Add finished episodes, each ``(return, length)``, oldest first."""
        self.episodes.extend((float(ret), float(length)) for ret, length in episodes)

    def summary(self) -> dict[str, float]:
        """``episode_reward_mean/max/min`` and ``episode_len_mean`` over the window (NaN before the first episode)."""
        if not self.episodes:
            return dict.fromkeys(
                ("episode_reward_mean", "episode_reward_max", "episode_reward_min", "episode_len_mean"), math.nan
            )
        returns = [ret for ret, _ in self.episodes]
        return {
            "episode_reward_mean": math.fsum(returns) / len(returns),
            "episode_reward_max": max(returns),
            "episode_reward_min": min(returns),
            "episode_len_mean": math.fsum(length for _, length in self.episodes) / len(self.episodes),
        }


def iteration_episodes(runners: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The episodes that ended in an iteration, ``(return, length)`` each, from its RLlib ``env_runners`` results:
    rlrt's callback's list where it ran (every RLlib env runner); otherwise (a result without it) RLlib's own mean,
    once per episode it counted, with RLlib's maximum and minimum."""
    items = runners.get(EPISODES)
    if isinstance(items, tuple):  # RLlib's result gives a one-item list as that item
        items = [items]
    if isinstance(items, list) and items:
        return [(float(ret), float(length)) for ret, length in items]
    mean = float_or_nan(runners.get("episode_return_mean"))
    count = float_or_nan(runners.get("num_episodes"))
    if not math.isfinite(mean):
        return []
    length = float_or_nan(runners.get("episode_len_mean"))
    episodes = int(count) if math.isfinite(count) and count >= 1 else 1  # a result without a count: one episode
    high, low = float_or_nan(runners.get("episode_return_max")), float_or_nan(runners.get("episode_return_min"))
    if episodes < 2 or not (math.isfinite(high) and math.isfinite(low)):
        return [(mean, length)] * episodes
    # Episodes with RLlib's sum, maximum and minimum (it reports no more of them).
    rest = (mean * episodes - high - low) / (episodes - 2) if episodes > 2 else mean
    return [(high, length), (low, length)] + [(rest, length)] * (episodes - 2)


def metrics_from_rllib(
    result: Mapping[str, Any],
    iteration: int,
    timesteps_total: int,
    episodes_total: int,
    time_total_s: float,
    window: EpisodeWindow | None = None,
    evaluated: bool = True,
) -> IterationMetrics:
    """Pick the reported numbers out of an RLlib (new API stack) result dict.

    With a ``window`` the episode numbers are smoothed over its last episodes (see :class:`EpisodeWindow`); without
    one they are this iteration's own. ``evaluated``: whether the iteration ran an evaluation
    (:func:`evaluated_this_iteration`); the result of one that did not still holds the last one's numbers.
    """
    runners = result.get("env_runners", {}) or {}
    window = window if window is not None else EpisodeWindow(size=10**9)
    window.add(iteration_episodes(runners))
    return IterationMetrics(
        training_iteration=iteration,
        timesteps_total=timesteps_total,
        time_total_s=time_total_s,
        episodes_total=episodes_total,
        env_steps_per_s=float_or_nan(runners.get("num_env_steps_sampled"))
        / max(1e-9, float_or_nan(result.get("time_this_iter_s"))),
        **window.summary(),
        **learner_stats(result),
        **evaluation_stats(result if evaluated else {}),
    )


def evaluated_this_iteration(algo: Any) -> bool:
    """Whether the iteration an RLlib algorithm just trained ran its evaluation: every ``evaluation_interval``-th
    (RLlib's own rule; ``iteration`` has counted the one just trained). RLlib's metrics keep the last evaluation's
    results, so each later result carries them again until the next one."""
    interval = getattr(algo.config, "evaluation_interval", None) or 0
    return bool(interval) and algo.iteration % interval == 0


def evaluation_stats(result: Mapping[str, Any]) -> dict[str, float]:
    """The mean return and length of an RLlib result's evaluation episodes (NaN when the iteration ran none)."""
    runners = (result.get("evaluation") or {}).get("env_runners") or {}
    return {
        "evaluation_reward_mean": float_or_nan(runners.get("episode_return_mean")),
        "evaluation_len_mean": float_or_nan(runners.get("episode_len_mean")),
    }
