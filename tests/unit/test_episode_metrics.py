"""Episode numbers are exact across iteration boundaries: an episode that reaches RLlib's callback as
chunks, which on the local env runner overlap by one step, counts each timestep once, with its whole length and
return; checked against the episode itself over random boundaries and overlaps (Hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.backends.rllib.episode_metrics import exact_episode
from runtime.train.reporting import EPISODES, LENGTH_SUM, RETURN_MAX, RETURN_MIN, RETURN_SUM, metrics_from_rllib


def chunked(rewards: list[float], cuts: list[int], overlaps: list[bool]) -> list[tuple[int, list[float]]]:
    """The episode cut at ``cuts`` as RLlib's env runner returns it: each chunk ``(t_started, rewards)``; a chunk
    marked in ``overlaps`` also holds the next chunk's first step (RLlib's local env runner)."""
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(rewards))), len(rewards)]
    chunks = []
    for i, (start, end) in enumerate(zip(bounds, bounds[1:])):
        stop = end + 1 if i < len(overlaps) and overlaps[i] and end < len(rewards) else end
        chunks.append((start, rewards[start:stop]))
    return chunks


@settings(max_examples=300, deadline=None)
@given(rewards=st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=400),
       cuts=st.lists(st.integers(0, 400), max_size=6), overlaps=st.lists(st.booleans(), max_size=7))
def test_an_episode_counts_every_timestep_once_whatever_its_chunks(rewards: list[float], cuts: list[int],
                                                                   overlaps: list[bool]) -> None:
    length, total = exact_episode(chunked(rewards, cuts, overlaps))
    assert length == len(rewards)
    assert math.isclose(total, math.fsum(rewards), rel_tol=1e-9, abs_tol=1e-6)


def test_the_reacher_case_is_150_steps() -> None:
    """What RLlib 2.x reported as 151 steps (its chunks (0, 76) and (75, 150) summed)."""
    assert exact_episode([(0, [1.0] * 76), (75, [1.0] * 75)]) == (150, 150.0)


def test_the_report_uses_the_exact_sums_when_the_callback_logged_them() -> None:
    result = {"env_runners": {"episode_len_mean": 150.2, "episode_return_mean": 9.0, "num_episodes": 5,
                              EPISODES: 5, LENGTH_SUM: 750, RETURN_SUM: 40.0, RETURN_MAX: 10.0, RETURN_MIN: 6.0,
                              "num_env_steps_sampled": 750}, "time_this_iter_s": 1.0}
    metrics = metrics_from_rllib(result, 1, 750, 5, 1.0)
    assert (metrics.episode_len_mean, metrics.episode_reward_mean) == (150.0, 8.0)
    assert (metrics.episode_reward_max, metrics.episode_reward_min) == (10.0, 6.0)
