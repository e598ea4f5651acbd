"""Off-policy estimators against an independent brute-force computation on a tiny MDP with a known true value.

The MDP: states s0, s1 (one-hot observations), actions 0 and 1. From s0 action a pays r0[a], then moves to s1 with
probability p1[a] or the episode ends; from s1 action b pays r1[b] and the episode ends. The behaviour policy mu and
the target policy pi are tables. The true value of pi is computed by hand (Bellman), and the dataset holds every
possible trajectory exactly as often as mu produces it (counts proportional to their probabilities), so the sample
estimators must equal their expectations exactly: IS, WIS and sequential DR are unbiased for V^pi (SDR for any
Q); the one-step estimators estimate the per-step expected reward of pi under mu's state distribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.offline.dataset import LoggedData
from runtime.offline import ope

GAMMA = 0.9
R0 = np.array([1.0, 0.0])
R1 = np.array([0.0, 5.0])
P1 = np.array([0.5, 0.75])  # P(s1 | s0, a)
MU = {0: np.array([0.5, 0.5]), 1: np.array([0.75, 0.25])}
PI = {0: np.array([0.25, 0.75]), 1: np.array([0.5, 0.5])}
OBS = {0: [1.0, 0.0], 1: [0.0, 1.0]}


def true_value() -> float:
    v1 = float(PI[1] @ R1)
    return float(sum(PI[0][a] * (R0[a] + GAMMA * P1[a] * v1) for a in range(2)))


def true_q() -> dict[int, np.ndarray]:
    v1 = float(PI[1] @ R1)
    return {0: R0 + GAMMA * P1 * v1, 1: R1.copy()}


def trajectories() -> list[tuple[float, list[tuple[int, int, float]]]]:
    """Every trajectory under mu with its probability: (probability, [(state, action, reward), ...])."""
    out = []
    for a in range(2):
        out.append((MU[0][a] * (1 - P1[a]), [(0, a, R0[a])]))
        for b in range(2):
            out.append((MU[0][a] * P1[a] * MU[1][b], [(0, a, R0[a]), (1, b, R1[b])]))
    return out


def exact_dataset(scale: int = 128) -> LoggedData:
    """Each trajectory repeated probability * scale times (all probabilities are multiples of 1/128)."""
    obs, actions, rewards, probs, lengths = [], [], [], [], []
    for p, steps in trajectories():
        count = p * scale
        assert count == int(count)
        for _ in range(int(count)):
            for s, a, r in steps:
                obs.append(OBS[s])
                actions.append(a)
                rewards.append(r)
                probs.append(MU[s])
            lengths.append(len(steps))
    return _logged(obs, actions, rewards, probs, lengths)


def _logged(obs, actions, rewards, probs, lengths) -> LoggedData:
    return LoggedData(
        observations=np.asarray(obs, np.float32),
        actions=np.asarray(actions, np.int64),
        rewards=np.asarray(rewards, np.float32),
        episode_bounds=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        terminated=np.ones(len(lengths), bool),
        behaviour_probs=np.asarray(probs, np.float64),
        discrete=True,
        n_actions=2,
        files=(Path("memory"),),
    )


def per_state(data: LoggedData, table: dict[int, np.ndarray]) -> np.ndarray:
    states = np.argmax(data.observations, axis=1)
    return np.stack([table[int(s)] for s in states]).astype(np.float64)


def test_true_value_by_enumeration_matches_bellman() -> None:
    """The brute-force reference itself: E_pi[G] by enumerating trajectories under pi equals the Bellman value."""
    total = 0.0
    for a in range(2):
        total += PI[0][a] * (1 - P1[a]) * R0[a]
        for b in range(2):
            total += PI[0][a] * P1[a] * PI[1][b] * (R0[a] + GAMMA * R1[b])
    assert total == pytest.approx(true_value())


def test_importance_sampling_is_unbiased() -> None:
    data = exact_dataset()
    assert ope.importance_sampling(data, per_state(data, PI), GAMMA) == pytest.approx(true_value(), abs=1e-9)


def test_weighted_importance_sampling_matches_direct_formula_and_true_value() -> None:
    data = exact_dataset()
    target = per_state(data, PI)
    # The exact dataset's weights average to 1, so WIS equals IS equals the true value.
    assert ope.weighted_importance_sampling(data, target, GAMMA) == pytest.approx(true_value(), abs=1e-9)
    # On a skewed sample (each trajectory once) WIS is the weighted mean of returns; compute that independently.
    weights, returns = [], []
    obs, actions, rewards, probs, lengths = [], [], [], [], []
    for _, steps in trajectories():
        w, g = 1.0, 0.0
        for t, (s, a, r) in enumerate(steps):
            w *= PI[s][a] / MU[s][a]
            g += GAMMA**t * r
            obs.append(OBS[s])
            actions.append(a)
            rewards.append(r)
            probs.append(MU[s])
        lengths.append(len(steps))
        weights.append(w)
        returns.append(g)
    once = _logged(obs, actions, rewards, probs, lengths)
    expected = float(np.dot(weights, returns) / np.sum(weights))
    assert ope.weighted_importance_sampling(once, per_state(once, PI), GAMMA) == pytest.approx(expected)
    assert ope.importance_sampling(once, per_state(once, PI), GAMMA) == pytest.approx(
        float(np.mean(np.multiply(weights, returns)))
    )


def test_weighted_importance_sampling_is_zero_when_all_weights_vanish() -> None:
    data = exact_dataset()
    target = np.tile([1.0, 0.0], (data.num_transitions, 1))
    target[:, :] = 0.0
    target[np.arange(data.num_transitions), 1 - data.actions] = 1.0  # never the logged action
    assert ope.weighted_importance_sampling(data, target, GAMMA) == 0.0


@pytest.mark.parametrize("q_kind", ["true", "zero", "wrong"])
def test_sequential_doubly_robust_is_unbiased_for_any_q(q_kind: str) -> None:
    data = exact_dataset()
    q_table = {
        "true": true_q(),
        "zero": {0: np.zeros(2), 1: np.zeros(2)},
        "wrong": {0: np.array([7.0, -3.0]), 1: np.array([2.0, 11.0])},
    }[q_kind]
    estimate = ope.sequential_doubly_robust(data, per_state(data, PI), per_state(data, q_table), GAMMA)
    assert estimate == pytest.approx(true_value(), abs=1e-9)


def test_sequential_doubly_robust_with_zero_q_equals_per_decision_is() -> None:
    """With Q = 0, DR reduces to per-decision importance sampling: sum_t gamma^t (prod_{k<=t} rho_k) r_t."""
    data = exact_dataset()
    target = per_state(data, PI)
    zero = np.zeros_like(target)
    expected = []
    for e in range(data.num_episodes):
        a, b = data.episode_bounds[e], data.episode_bounds[e + 1]
        w, total = 1.0, 0.0
        for t in range(a, b):
            w *= target[t, data.actions[t]] / data.behaviour_probs[t, data.actions[t]]
            total += GAMMA ** (t - a) * w * data.rewards[t]
        expected.append(total)
    assert ope.sequential_doubly_robust(data, target, zero, GAMMA) == pytest.approx(float(np.mean(expected)))


def test_one_step_estimators_estimate_expected_immediate_reward() -> None:
    data = exact_dataset()
    target = per_state(data, PI)
    # Independent reference: states weighted by how often mu's data visits them.
    visits = {0: 0.0, 1: 0.0}
    for p, steps in trajectories():
        for s, _, _ in steps:
            visits[s] += p
    rewards = {0: R0, 1: R1}
    reference = sum(visits[s] * float(PI[s] @ rewards[s]) for s in visits) / sum(visits.values())
    for model in ({0: R0, 1: R1}, {0: np.array([3.0, 3.0]), 1: np.zeros(2)}):
        ips, dm, dr = ope.one_step_estimators(data, target, per_state(data, model))
        assert ips == pytest.approx(reference)
        assert dr == pytest.approx(reference)  # doubly robust: unbiased for any reward model
    _, dm_true, _ = ope.one_step_estimators(data, target, per_state(data, {0: R0, 1: R1}))
    assert dm_true == pytest.approx(reference)


def test_softmax_policy_temperature_and_mask() -> None:
    q = np.array([[1.0, 2.0], [0.0, 0.0], [5.0, 1.0]])
    probs = ope.softmax_policy(q, 0.5)
    np.testing.assert_allclose(probs[0], [1 / (1 + np.e**2), np.e**2 / (1 + np.e**2)])
    np.testing.assert_allclose(probs[1], [0.5, 0.5])
    masked = ope.softmax_policy(q, 0.5, allowed=np.array([[True, True], [True, False], [False, True]]))
    np.testing.assert_allclose(masked[1:], [[1.0, 0.0], [0.0, 1.0]])
