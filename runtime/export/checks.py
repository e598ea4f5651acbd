"""The export pipeline's numerical checks: every export must reproduce the policy it came from, within what float32
rounding can move (:func:`compare_outputs`)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from runtime.export.policy import Q_ENSEMBLE, ActionHead, output_names
from runtime.names import ACTION_PROBABILITIES, ACTIONS, Q_VALUES

TOLERANCE = 1e-5
CHECK_SEED = 0
"""torch's seed before each run of a check (a stochastic policy then draws the same numbers in every run)."""


def tolerance_for(observation_dim: int) -> float:
    """The check's tolerance for a policy over ``observation_dim`` inputs: :data:`TOLERANCE` up to 100 inputs, then
    growing like the square root of the count, as float32 rounding of sums over that many terms does (a camera's
    19,200 pixels through a CNN: ~1.4e-4; ONNX Runtime and torch order those sums differently)."""
    return TOLERANCE * max(1.0, math.sqrt(observation_dim / 100))


ROUNDING_FACTOR = 4.0
"""How many times its own float32 rounding an export of a policy may differ from the torch module: two float32 runs
of the same sums in different orders (ONNX Runtime's, torch's) each stray from the exact sums by about that rounding,
so from each other by up to twice it; 4 leaves room for a different but equally exact kernel."""


def float32_rounding(module: Any, observations: np.ndarray, outputs: list[np.ndarray]) -> float:
    """How far float32 rounding moves ``module``'s ``outputs`` on ``observations``: the largest difference from the
    same module run in float64 (relative where a value is above 1, as :func:`assert_close` measures). It grows with a
    policy's activations, not only with its input count: 7.2e-6 for the SAC humanoid of bench/results/history.md (44
    normalised observations through 256-wide layers), whose ONNX export differed from torch by 1.06e-5. 0.0 for a
    module that does not run in float64."""
    import torch  # heavy: torch (~1.5 s)

    try:
        double = copy.deepcopy(module).double()
        with torch.no_grad():
            torch.manual_seed(CHECK_SEED)
            exact = [o.cpu().numpy() for o in double(torch.as_tensor(observations, dtype=torch.float64))]
    except (RuntimeError, TypeError, AttributeError):  # a module built for float32 only: no measure
        return 0.0
    worst = 0.0
    for got, value in zip(outputs, exact):
        got, value = np.asarray(got), np.asarray(value)
        if got.shape == value.shape and got.size and np.issubdtype(got.dtype, np.floating):
            worst = max(worst, float(np.max(relative_difference(got, value))))
    return worst


def export_tolerance(serving: Any, observations: np.ndarray, outputs: list[np.ndarray]) -> float:
    """The tolerance an export of ``serving`` (a :class:`runtime.export.policy.ServingModel`) is checked with, given the
    torch module's ``outputs`` on ``observations``: :func:`tolerance_for` its input count, or
    :data:`ROUNDING_FACTOR` times the module's own float32 rounding where that is larger."""
    base = tolerance_for(serving.observation_dim)
    if serving.stochastic:  # random draws: its exports are checked for shapes and bounds only
        return base
    return max(base, ROUNDING_FACTOR * float32_rounding(serving.module, observations, outputs))


class ExportMismatch(RuntimeError):
    """An exported model does not reproduce the policy it was exported from."""


def check_observations(observation_dim: int, count: int = 64, seed: int = 0) -> np.ndarray:
    """Random float32 observations for the numerical checks (wide enough to exercise filter clipping)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((count, observation_dim)) * 3).astype(np.float32)


def torch_outputs(policy: Any, observations: np.ndarray) -> list[np.ndarray]:
    """Run the torch serving policy on a numpy batch."""
    import torch  # heavy: torch (~1.5 s)

    with torch.no_grad():
        return [o.cpu().numpy() for o in policy(torch.as_tensor(observations))]


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b|`` in float64, relative to ``|b|`` where that is above 1: the measure of :func:`assert_close`."""
    b = np.asarray(b, dtype=np.float64)
    return np.asarray(np.abs(np.asarray(a, dtype=np.float64) - b) / np.maximum(1.0, np.abs(b)), dtype=np.float64)


def assert_close(
    name: str, got: list[np.ndarray], expected: list[np.ndarray], tolerance: float | list[Any] = TOLERANCE
) -> float:
    """Raise :class:`ExportMismatch` unless every output matches within ``tolerance`` (absolute, relative for values
    larger than 1: float32 carries about 7 digits, so Q values of 20 agree to ~2e-6 relative); returns the largest
    absolute error. ``tolerance`` may be given per output: a number, one per row, or one per value."""
    tolerances = tolerance if isinstance(tolerance, list) else [tolerance] * len(expected)
    worst = 0.0
    for index, (a, b, allowed) in enumerate(zip(got, expected, tolerances)):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise ExportMismatch(f"{name}: output {index} has shape {a.shape}, expected {b.shape}")
        if not a.size:
            continue
        difference = np.abs(a - b)
        worst = max(worst, float(np.max(difference)))
        scaled = relative_difference(a, b)
        allowed = np.asarray(allowed, dtype=np.float64)
        if 0 < allowed.ndim < scaled.ndim:
            allowed = allowed.reshape(allowed.shape + (1,) * (scaled.ndim - allowed.ndim))
        if np.any(scaled > allowed):
            raise ExportMismatch(
                f"{name}: output {index} differs by {float(np.max(difference)):.3g} "
                f"({float(np.max(scaled)):.3g} relative to the value where it is above 1; "
                f"> {float(np.min(allowed)):g})"
            )
    return worst


def compare_outputs(
    name: str,
    head: ActionHead,
    got: list[np.ndarray],
    expected: list[np.ndarray],
    names: list[str] | None = None,
    tolerance: float = TOLERANCE,
) -> float:
    """:func:`assert_close` for the outputs ``names`` (default: all of the head's) of a policy with ``head``,
    allowing what float32 rounding of the Q values legitimately moves in a :data:`Q_ENSEMBLE` head (``expected``
    must then include ``q_values``):

    - each row's Q values agree within ``TOLERANCE`` relative to the row's largest ``|Q|`` (Q values near 100 differ by
      ~2e-5 between ONNX Runtime's and torch's matrix products, and so may a Q value near 0 beside them);
    - ``action_probabilities`` = softmax(Q / T) moves by at most half the largest change of Q / T (the softmax
      Jacobian's rows sum to at most 1/2 in absolute value), so its tolerance is that bound of the Q tolerance;
    - a greedy action may differ where the two actions' Q values tie within twice the Q tolerance, and the other
      action is allowed (its probability is not zero).

    Returns the largest absolute error (a tied greedy action counts as none).
    """
    names = output_names(head) if names is None else names
    if head.kind != Q_ENSEMBLE or Q_VALUES not in names:
        return assert_close(name, got, expected, tolerance)
    got = list(got)
    q = np.asarray(expected[names.index(Q_VALUES)], dtype=np.float64)
    slack = TOLERANCE * np.maximum(1.0, np.abs(q).max(axis=1))
    tolerances: list[Any] = [TOLERANCE] * len(names)
    tolerances[names.index(Q_VALUES)] = slack[:, None] / np.maximum(1.0, np.abs(q))
    if ACTION_PROBABILITIES in names:
        tolerances[names.index(ACTION_PROBABILITIES)] = np.maximum(TOLERANCE, 0.5 * slack / head.temperature)
    if ACTIONS in names:
        index = names.index(ACTIONS)
        mine = np.asarray(got[index]).astype(np.int64)
        theirs = np.asarray(expected[index]).astype(np.int64)
        if mine.shape == theirs.shape == q.shape[:1]:
            rows = np.arange(len(theirs))
            other = np.clip(mine, 0, q.shape[1] - 1)
            tied = (mine != theirs) & (mine == other) & (np.abs(q[rows, other] - q[rows, theirs]) <= 2 * slack)
            if ACTION_PROBABILITIES in names:
                tied &= np.asarray(expected[names.index(ACTION_PROBABILITIES)])[rows, other] > 0
            got[index] = np.where(tied, theirs, mine)
    return assert_close(name, got, expected, tolerances)
