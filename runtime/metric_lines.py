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
