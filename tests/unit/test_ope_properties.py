"""The importance-sampling family on arbitrary logged data (Hypothesis), against plain loops over the episodes.

The hand-solved MDP in test_offline_ope.py checks the estimators' expectations; these check identities that hold
exactly on *any* dataset, whatever its episode lengths, action counts, probabilities and rewards:

- on-policy (pi = mu every weight is 1): IS and WIS are the mean discounted return;
- SDR with Q = 0 is per-decision importance sampling, ``mean_e sum_t gamma^t (prod_{k<=t} rho_k) r_t``;
- SDR on-policy with a Q that ignores the action (so V(s_t) = Q(s_t, a_t)) is the mean discounted return;
- WIS is a weighted mean of the returns: between the smallest and largest return of the episodes it weights;
- trajectory-wise IS is ``mean_e (prod_t rho_t) G_e``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.offline import ope
from runtime.offline.dataset import LoggedData

SETTINGS = settings(derandomize=True, max_examples=60, deadline=None)
finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
probability = st.floats(0.05, 1.0)


@st.composite
def logged(draw: Any) -> tuple[LoggedData, np.ndarray, float]:
    """Random episodes (1-6 steps, 2-4 actions), behaviour probabilities, rewards; a target policy; a discount."""
    n_actions = draw(st.integers(2, 4))
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=6))
    rows = sum(lengths)

    def policy() -> np.ndarray:
        table = np.array(
            draw(st.lists(st.lists(probability, min_size=n_actions, max_size=n_actions), min_size=rows, max_size=rows))
        )
        return table / table.sum(axis=1, keepdims=True)

    mu, pi = policy(), policy()
    data = LoggedData(
        observations=np.array(
            draw(st.lists(st.lists(finite, min_size=2, max_size=2), min_size=rows, max_size=rows)), np.float32
        ),
        actions=np.array(draw(st.lists(st.integers(0, n_actions - 1), min_size=rows, max_size=rows)), np.int64),
        rewards=np.array(draw(st.lists(finite, min_size=rows, max_size=rows)), np.float32),
        episode_bounds=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        terminated=np.ones(len(lengths), bool),
        behaviour_probs=mu,
        discrete=True,
        n_actions=n_actions,
        files=(Path("memory"),),
    )
    return data, pi, draw(st.floats(0.0, 1.0))


def episodes(data: LoggedData) -> list[range]:
    return [range(int(a), int(b)) for a, b in zip(data.episode_bounds[:-1], data.episode_bounds[1:])]


def returns(data: LoggedData, gamma: float) -> list[float]:
    return [sum(gamma ** (t - ep.start) * float(data.rewards[t]) for t in ep) for ep in episodes(data)]


def ratio(data: LoggedData, target: np.ndarray, t: int) -> float:
    assert data.behaviour_probs is not None
    a = int(data.actions[t])
    return float(target[t, a] / data.behaviour_probs[t, a])


@SETTINGS
@given(logged())
def test_on_policy_importance_sampling_is_the_mean_return(case: tuple[LoggedData, np.ndarray, float]) -> None:
    data, _, gamma = case
    assert data.behaviour_probs is not None
    mean = float(np.mean(returns(data, gamma)))
    assert ope.importance_sampling(data, data.behaviour_probs, gamma) == pytest.approx(mean, abs=1e-6)
    assert ope.weighted_importance_sampling(data, data.behaviour_probs, gamma) == pytest.approx(mean, abs=1e-6)


@SETTINGS
@given(logged())
def test_trajectory_importance_sampling_and_wis(case: tuple[LoggedData, np.ndarray, float]) -> None:
    data, pi, gamma = case
    weights = [float(np.prod([ratio(data, pi, t) for t in ep])) for ep in episodes(data)]
    g = returns(data, gamma)
    expected = float(np.mean([w * x for w, x in zip(weights, g)]))
    assert ope.importance_sampling(data, pi, gamma) == pytest.approx(expected, rel=1e-6, abs=1e-6)
    wis = ope.weighted_importance_sampling(data, pi, gamma)
    assert wis == pytest.approx(sum(w * x for w, x in zip(weights, g)) / sum(weights), rel=1e-6, abs=1e-6)
    assert min(g) - 1e-6 <= wis <= max(g) + 1e-6  # every weight is positive here: a convex combination


@SETTINGS
@given(logged())
def test_sequential_doubly_robust_with_zero_q_is_per_decision_is(case: tuple[LoggedData, np.ndarray, float]) -> None:
    data, pi, gamma = case
    per_episode = []
    for ep in episodes(data):
        weight, total = 1.0, 0.0
        for t in ep:
            weight *= ratio(data, pi, t)
            total += gamma ** (t - ep.start) * weight * float(data.rewards[t])
        per_episode.append(total)
    zero = np.zeros_like(pi)
    assert ope.sequential_doubly_robust(data, pi, zero, gamma) == pytest.approx(
        float(np.mean(per_episode)), rel=1e-6, abs=1e-6
    )


@SETTINGS
@given(logged(), st.data())
def test_on_policy_sequential_doubly_robust_with_state_values_is_the_mean_return(
    case: tuple[LoggedData, np.ndarray, float], draw: st.DataObject
) -> None:
    data, _, gamma = case
    assert data.behaviour_probs is not None
    values = np.array(draw.draw(st.lists(finite, min_size=data.num_transitions, max_size=data.num_transitions)))
    q = np.repeat(values[:, None], data.n_actions, axis=1)  # the same value for every action: V(s) = Q(s, a)
    estimate = ope.sequential_doubly_robust(data, data.behaviour_probs, q, gamma)
    assert estimate == pytest.approx(float(np.mean(returns(data, gamma))), rel=1e-6, abs=1e-5)
