"""Off-policy estimators against an independent brute-force computation on a tiny MDP with a known true value.

The MDP: states s0, s1 (one-hot observations), actions 0 and 1. From s0 action a pays r0[a], then moves to s1 with
probability p1[a] or the episode ends; from s1 action b pays r1[b] and the episode ends. The behaviour policy mu and
the target policy pi are tables. The true value of pi is computed by hand (Bellman), and the dataset holds every
possible trajectory exactly as often as mu produces it (counts proportional to their probabilities), so the sample
estimators must equal their expectations exactly: IS, WIS and sequential DR are unbiased for V^pi (SDR for any
Q); the one-step estimators estimate the per-step expected reward of pi under mu's state distribution.
"""

from __future__ import annotations


import numpy as np
import pytest

from runtime.offline import ope
from tests.unit.test_offline_ope import (
    GAMMA,
    MU,
    OBS,
    P1,
    PI,
    R0,
    R1,
    _logged,
    exact_dataset,
    per_state,
    true_q,
    true_value,
)


def test_fitted_reward_model_recovers_a_linear_reward() -> None:
    data = exact_dataset()
    model = ope.fit_reward_model(data, ridge=1e-9)
    np.testing.assert_allclose(model, per_state(data, {0: R0, 1: R1}), atol=1e-5)


def test_monte_carlo_sample_converges_to_true_value() -> None:
    """A random sample of mu's episodes (not the exact one) gives estimates near V^pi."""
    rng = np.random.default_rng(0)
    obs, actions, rewards, probs, lengths = [], [], [], [], []
    for _ in range(20000):
        a = int(rng.choice(2, p=MU[0]))
        obs.append(OBS[0])
        actions.append(a)
        rewards.append(R0[a])
        probs.append(MU[0])
        if rng.random() < P1[a]:
            b = int(rng.choice(2, p=MU[1]))
            obs.append(OBS[1])
            actions.append(b)
            rewards.append(R1[b])
            probs.append(MU[1])
            lengths.append(2)
        else:
            lengths.append(1)
    data = _logged(obs, actions, rewards, probs, lengths)
    target = per_state(data, PI)
    v = true_value()
    assert ope.importance_sampling(data, target, GAMMA) == pytest.approx(v, rel=0.05)
    assert ope.weighted_importance_sampling(data, target, GAMMA) == pytest.approx(v, rel=0.05)
    assert ope.sequential_doubly_robust(data, target, per_state(data, true_q()), GAMMA) == pytest.approx(v, rel=0.02)
    result = ope.evaluate_all(data, target, per_state(data, true_q()), ope.fit_reward_model(data), GAMMA)
    assert set(result.row()) >= {"Weighted Importance Sampling", "Sequential Doubly Robust"}
    assert any(line.startswith("ope_wis: ") for line in result.lines())
    assert any(line.startswith("ope_sdr: ") for line in result.lines())
