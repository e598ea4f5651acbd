"""The export pipeline's numerical checks (runtime.export.checks.compare_outputs): what float32 rounding of large
Q values legitimately moves passes, a real difference does not.

The CI run of 2026-11-22 lost a Batch RL model's serving exports: its Q values reached ~90, ONNX Runtime's and torch's
float32 matrix products differed by 2e-5 there (2e-7 relative), and softmax(Q) then differed by 3.5e-5, above the
flat 1e-5 the probabilities were held to.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from runtime.export.checks import TOLERANCE, ExportMismatch, assert_close, compare_outputs
from runtime.export.policy import CATEGORICAL, Q_ENSEMBLE, ActionHead

HEAD = ActionHead(Q_ENSEMBLE, 2, temperature=1.0, filter_threshold=float(np.log(0.3)))


def softmax(q: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = q / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def outputs(q: np.ndarray, temperature: float = 1.0) -> list[np.ndarray]:
    """A Q-ensemble head's outputs from Q values, in float32 like the exports (every action allowed)."""
    q = q.astype(np.float32)
    return [q.argmax(axis=1), softmax(q.astype(np.float64), temperature).astype(np.float32), q]


def test_rounding_of_large_q_values_passes_where_a_flat_tolerance_failed() -> None:
    rng = np.random.default_rng(0)
    q = np.stack([-90 + rng.normal(0, 0.5, 64), -90 + rng.normal(0, 0.5, 64)], axis=1)
    got_q = q + rng.uniform(-3e-5, 3e-5, q.shape)  # ~3e-7 relative, what ONNX Runtime vs torch gave
    expected, got = outputs(q), outputs(got_q)
    got[0] = expected[0]  # no ties in this batch: the greedy actions agree
    with pytest.raises(ExportMismatch, match="output 1"):
        assert_close("flat", got, expected)  # the probabilities move by more than 1e-5
    assert compare_outputs("ONNX", HEAD, got, expected) < 1e-3


def test_a_real_difference_in_probabilities_or_q_values_fails() -> None:
    q = np.array([[10.0, 10.5], [3.0, 1.0]])
    expected = outputs(q)
    wrong = [a.copy() for a in expected]
    wrong[1][0] = [0.45, 0.55]
    with pytest.raises(ExportMismatch, match="output 1"):
        compare_outputs("ONNX", HEAD, wrong, expected)
    wrong = [a.copy() for a in expected]
    wrong[2][1, 0] += 1e-3
    with pytest.raises(ExportMismatch, match="output 2"):
        compare_outputs("ONNX", HEAD, wrong, expected)


def test_a_greedy_action_may_differ_only_on_a_tie_between_allowed_actions() -> None:
    q = np.array([[20.0, 20.000002], [20.0, 21.0]], dtype=np.float32)
    expected = outputs(q)
    tie = [a.copy() for a in expected]
    tie[0][0] = 1 - tie[0][0]
    assert compare_outputs("ONNX", HEAD, tie, expected) < TOLERANCE  # a tie is no error
    clear = [a.copy() for a in expected]
    clear[0][1] = 0  # Q 20 against 21: no tie
    with pytest.raises(ExportMismatch, match="output 0"):
        compare_outputs("ONNX", HEAD, clear, expected)
    filtered = [a.copy() for a in expected]
    filtered[1][0] = [1.0, 0.0]  # the imitator filter removed action 1
    filtered[0][0] = 0
    disallowed = [a.copy() for a in filtered]
    disallowed[0][0] = 1
    with pytest.raises(ExportMismatch, match="output 0"):
        compare_outputs("ONNX", HEAD, disallowed, filtered)
    out_of_range = [a.copy() for a in expected]
    out_of_range[0][0] = 7
    with pytest.raises(ExportMismatch, match="output 0"):
        compare_outputs("ONNX", HEAD, out_of_range, expected)


def test_the_framework_check_subset_without_probabilities() -> None:
    q = np.array([[5.0, 5.000001], [1.0, 2.0]], dtype=np.float32)
    expected = outputs(q)
    names = ["actions", "q_values"]
    got = [np.array([0, 1]), q.copy()]
    assert compare_outputs("framework", HEAD, got, [expected[0], expected[2]], names=names) < TOLERANCE


def test_other_heads_keep_the_flat_tolerance() -> None:
    head = ActionHead(CATEGORICAL, 2)
    expected = [np.array([0]), np.array([[0.6, 0.4]], dtype=np.float32)]
    got = [np.array([0]), np.array([[0.6 + 2e-5, 0.4 - 2e-5]], dtype=np.float32)]
    with pytest.raises(ExportMismatch):
        compare_outputs("ONNX", head, got, expected)


@settings(max_examples=200, deadline=None)
@given(
    q=arrays(np.float64, (8, 3), elements=st.floats(-500, 500)),
    noise=arrays(np.float64, (8, 3), elements=st.floats(-0.999, 0.999)),
    temperature=st.floats(0.05, 10),
)
def test_probabilities_tolerance_bounds_softmax_under_any_q_change_within_the_q_tolerance(
    q: np.ndarray, noise: np.ndarray, temperature: float
) -> None:
    """Independent of the bound's derivation: for any Q values and any change within the Q tolerance, softmax(Q / T)
    computed in float64 moves by no more than the tolerance compare_outputs gives the probabilities."""
    slack = TOLERANCE * np.maximum(1.0, np.abs(q).max(axis=1, keepdims=True))
    moved = q + noise * slack
    expected = [q.argmax(axis=1), softmax(q, temperature), q]
    got = [expected[0], softmax(moved, temperature), moved]
    head = ActionHead(Q_ENSEMBLE, 3, temperature=temperature)
    compare_outputs("bound", head, got, expected)


class _Wide:
    """A torch MLP policy whose activations are large (inputs x 30 through 256-wide layers, a tanh-squashed output):
    its float32 rounding is above the flat 1e-5."""

    def __init__(self, inputs: int = 44, scale: float = 30.0) -> None:
        import torch

        torch.manual_seed(0)
        self.module = torch.nn.Sequential(
            torch.nn.Linear(inputs, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 17),
        )
        self.scale = scale

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy())
            for layer in self.module
            if hasattr(layer, "weight")
        ]


def _policy(wide: _Wide):
    import torch

    class Policy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = wide.module

        def forward(self, x):
            return (torch.tanh(self.body(x * wide.scale)),)

    return Policy()


def test_the_tolerance_follows_the_policys_own_float32_rounding_measured_by_numpy() -> None:
    """float32_rounding against the same MLP computed by NumPy in float64 (not by torch), and the tolerance it gives:
    ROUNDING_FACTOR times that where it is above the input-count rule."""
    import torch

    from runtime.export.checks import (
        ROUNDING_FACTOR,
        check_observations,
        export_tolerance,
        float32_rounding,
        tolerance_for,
    )
    from runtime.export.policy import SQUASHED_GAUSSIAN, ServingModel

    wide = _Wide()
    policy = _policy(wide)
    observations = check_observations(44)
    with torch.no_grad():
        got = [policy(torch.as_tensor(observations))[0].numpy()]
    x = observations.astype(np.float64) * wide.scale
    (w1, b1), (w2, b2), (w3, b3) = wide.weights()
    exact = np.tanh(np.maximum(np.maximum(x @ w1.T + b1, 0) @ w2.T + b2, 0) @ w3.T + b3)
    by_numpy = float(np.max(np.abs(got[0].astype(np.float64) - exact)))
    rounding = float32_rounding(policy, observations, got)
    assert rounding == pytest.approx(by_numpy, rel=1e-6) and rounding > TOLERANCE / ROUNDING_FACTOR

    serving = ServingModel(
        module=policy,
        observation_dim=44,
        head=ActionHead(SQUASHED_GAUSSIAN, 17),
        obs_filter=None,
        describe=lambda: None,
    )
    assert export_tolerance(serving, observations, got) == ROUNDING_FACTOR * rounding > tolerance_for(44)
    # A random policy's exports are checked for shapes and bounds: the rule's tolerance.
    random = ServingModel(
        module=policy,
        observation_dim=44,
        head=ActionHead(SQUASHED_GAUSSIAN, 17),
        obs_filter=None,
        describe=lambda: None,
        stochastic="sampled",
    )
    assert export_tolerance(random, observations, got) == tolerance_for(44)


def test_a_policy_that_runs_only_in_float32_keeps_the_input_count_rule() -> None:
    import torch

    from runtime.export.checks import check_observations, export_tolerance, float32_rounding, tolerance_for
    from runtime.export.policy import SQUASHED_GAUSSIAN, ServingModel

    class Float32Only(torch.nn.Module):
        def forward(self, x):
            return (x @ torch.ones(x.shape[1], 3, dtype=torch.float32),)  # a float64 x cannot multiply this

    observations = check_observations(8)
    got = [Float32Only()(torch.as_tensor(observations))[0].numpy()]
    assert float32_rounding(Float32Only(), observations, got) == 0.0
    serving = ServingModel(
        module=Float32Only(),
        observation_dim=8,
        head=ActionHead(SQUASHED_GAUSSIAN, 3),
        obs_filter=None,
        describe=lambda: None,
    )
    assert export_tolerance(serving, observations, got) == tolerance_for(8)
