"""The ``name: value`` metric lines SageMaker scrapes from a job's log, one format for training, evaluation and
off-policy estimates: the SDK's ``RLEstimator.default_metric_definitions`` regexes read
``episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)``, so a value is printed in that grammar."""

from __future__ import annotations


def format_value(value: float | int) -> str:
    """A number as the SDK regex reads it (no 'nan'/'inf': those lines are not printed)."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.6e}"


def metric_line(name: str, value: float | int) -> str:
    """One ``name: value`` line."""
    return f"{name}: {format_value(value)}"


OFF_POLICY_ESTIMATES: tuple[tuple[str, str], ...] = (
    ("ope_is", "Importance Sampling"),
    ("ope_wis", "Weighted Importance Sampling"),
    ("ope_dr", "Doubly Robust"),
    ("ope_sdr", "Sequential Doubly Robust"),
    ("ope_ips", "Inverse Propensity Score"),
    ("ope_dm", "Direct Method Reward"),
    ("ope_fqe", "Fitted Q Evaluation"),
)
"""An offline job's off-policy estimates: the metric line (and ``progress.csv`` column) and the name Coach's OPE CSV
gives it, which the Batch RL seed notebook plots and ``learning_curve.png`` labels its line with."""
ONE_STEP_ESTIMATES = ("ope_ips", "ope_dm", "ope_dr")
"""The estimates of the expected *immediate* reward per step (Coach's contextual-bandit estimators); the others
estimate an episode's discounted return."""
