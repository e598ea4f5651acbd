"""``learning_curve.png``: the series of ``progress.csv`` a job's curve shows, and the figure drawn from them.

An online job's curve is its mean episode return (the min - max band around it) against environment steps. An
offline job (one whose rows hold off-policy estimates) is drawn per epoch, as the Batch RL seed notebook plots its
OPE CSV: one line per estimator, labelled with Coach's name (``Weighted Importance Sampling``, ``Sequential Doubly
Robust``, ...), the discounted-return estimators and the one-step (reward per step) ones on panels of their own, and
the greedy evaluation return (``evaluation_episodes`` > 0) on a panel above them. The preset's pass bar is a dashed
line on the panel of the metric it is set on. Every point has a marker while there are at most 50, so that a
one-iteration job shows. A panel's y axis spans at least a tenth of the largest value it shows (:func:`y_limits`), so
that a flat curve looks flat, and the title is wrapped to the figure's width. ``rlrt plot`` (:mod:`runtime.runs.plot`)
draws several runs through the same figure: a line per configuration, its band the spread over the seeds.
"""

from __future__ import annotations

import csv
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from runtime.metric_lines import OFF_POLICY_ESTIMATES, ONE_STEP_ESTIMATES

RETURN = "episode_reward_mean"
MARKERS_UP_TO = 50
TITLE_WIDTH = 80
"""Characters of the title per line: what the 8-inch figure's title font holds."""
MIN_SPAN = 0.1
"""The smallest y span of a panel, as a share of the largest magnitude it shows."""


@dataclass(frozen=True)
class Series:
    """One line of the curve: its label and its finite points, and an optional band around it (low and high at each
    x, drawn in the line's colour) with the legend's words for it."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    band: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    band_label: str = ""


@dataclass(frozen=True)
class Panel:
    """One set of axes: its lines and the pass bar drawn on it."""

    ylabel: str
    lines: tuple[Series, ...]
    pass_bar: float | None = None


@dataclass(frozen=True)
class Curve:
    """What ``learning_curve.png`` shows: panels stacked top to bottom over one x axis."""

    xlabel: str
    panels: tuple[Panel, ...]


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_progress(progress_file: Path) -> list[dict[str, float]]:
    """The rows of ``progress.csv`` as numbers (NaN where a cell is empty or not a number)."""
    with progress_file.open(newline="", encoding="utf-8") as handle:
        return [{k: _number(v) for k, v in row.items() if k is not None} for row in csv.DictReader(handle)]


def _series(rows: Sequence[Mapping[str, float]], x_key: str, y_key: str, label: str) -> Series:
    points = [(r.get(x_key, math.nan), r.get(y_key, math.nan)) for r in rows]
    kept = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    return Series(label, tuple(x for x, _ in kept), tuple(y for _, y in kept))


def _return_panel(
    rows: Sequence[Mapping[str, float]], x_key: str, label: str, ylabel: str, pass_bar: tuple[str, float] | None
) -> Panel | None:
    mean = _series(rows, x_key, RETURN, label)
    if not mean.x:
        return None
    kept = [r for r in rows if math.isfinite(r.get(x_key, math.nan)) and math.isfinite(r.get(RETURN, math.nan))]
    band = (
        tuple(r.get("episode_reward_min", math.nan) for r in kept),
        tuple(r.get("episode_reward_max", math.nan) for r in kept),
    )
    bar = pass_bar[1] if pass_bar is not None and pass_bar[0] == RETURN else None
    return Panel(ylabel, (Series(mean.label, mean.x, mean.y, band, "min - max"),), bar)


def curve_series(rows: Sequence[Mapping[str, float]], pass_bar: tuple[str, float] | None = None) -> Curve | None:
    """The curve of ``progress.csv``'s rows (see the module's docstring); None when there is nothing to draw yet."""
    estimates = [
        (key, name) for key, name in OFF_POLICY_ESTIMATES if any(math.isfinite(r.get(key, math.nan)) for r in rows)
    ]
    if not estimates:
        panel = _return_panel(rows, "timesteps_total", "mean episode return", "episode return", pass_bar)
        return Curve("environment steps", (panel,)) if panel is not None else None
    panels = []
    evaluation = _return_panel(
        rows, "training_iteration", "mean evaluation return (greedy policy)", "evaluation return", pass_bar
    )
    if evaluation is not None:
        panels.append(evaluation)
    for one_step, ylabel in (
        (False, "off-policy estimate\n(discounted return)"),
        (True, "off-policy estimate\n(reward per step)"),
    ):
        lines = tuple(
            _series(rows, "training_iteration", key, f"{name} ({key})")
            for key, name in estimates
            if (key in ONE_STEP_ESTIMATES) == one_step
        )
        if lines:
            panels.append(Panel(ylabel, lines))
    return Curve("epoch", tuple(panels))


def y_limits(panel: Panel) -> tuple[float, float] | None:
    """The y axis of ``panel`` widened, about its middle, to :data:`MIN_SPAN` of its largest magnitude when its values
    lie closer together (an Acrobot policy stuck at -499 to -498 drew noise over the whole height, as if it moved);
    None to leave the axis to matplotlib."""
    values = [y for line in panel.lines for y in line.y]
    values += [
        y for line in panel.lines if line.band is not None for y in (*line.band[0], *line.band[1]) if math.isfinite(y)
    ]
    if panel.pass_bar is not None:
        values.append(panel.pass_bar)
    if not values:
        return None
    low, high = min(values), max(values)
    span = MIN_SPAN * max(abs(low), abs(high))
    if high - low >= span or span == 0:
        return None
    middle = (low + high) / 2
    return middle - span / 2, middle + span / 2


def learning_curve_figure(curve: Curve, title: str) -> Any:
    """The matplotlib figure of ``curve`` (close it with ``matplotlib.pyplot.close``)."""
    import matplotlib  # heavy: matplotlib (the learning curve only)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy: matplotlib (the learning curve only)

    count = len(curve.panels)
    fig, axes = plt.subplots(count, 1, figsize=(8, 2.2 + 2.3 * count), dpi=100, sharex=True, squeeze=False)
    for ax, panel in zip(axes[:, 0], curve.panels):
        for line in panel.lines:
            (drawn,) = ax.plot(
                line.x, line.y, marker="o" if len(line.x) <= MARKERS_UP_TO else None, markersize=4, label=line.label
            )
            if line.band is not None:
                ax.fill_between(
                    line.x,
                    line.band[0],
                    line.band[1],
                    color=drawn.get_color(),
                    alpha=0.2,
                    label=line.band_label or None,
                )
        if panel.pass_bar is not None:
            ax.axhline(panel.pass_bar, color="tab:green", linestyle="--", label=f"pass bar ({panel.pass_bar:g})")
        ax.set_ylabel(panel.ylabel)
        limits = y_limits(panel)
        if limits is not None:
            ax.set_ylim(*limits)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[0, 0].set_title(textwrap.fill(title, TITLE_WIDTH))
    axes[-1, 0].set_xlabel(curve.xlabel)
    if curve.xlabel == "epoch":
        from matplotlib.ticker import MaxNLocator  # heavy: matplotlib (the learning curve only)

        axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_learning_curve(
    progress_file: Path, out_file: Path, title: str, pass_bar: tuple[str, float] | None = None
) -> Path | None:
    """Draw ``progress_file`` into the PNG ``out_file`` (written whole or not at all); None when there is nothing to
    plot yet."""
    curve = curve_series(read_progress(progress_file), pass_bar)
    if curve is None:
        return None
    return save_figure(learning_curve_figure(curve, title), out_file, title)


def save_figure(fig: Any, out_file: Path, title: str) -> Path:
    """Write the matplotlib figure ``fig`` to the PNG ``out_file``, whole or not at all, and close it; ``title``
    whole in the PNG's Title (the figure's own may be wrapped)."""
    import matplotlib.pyplot as plt  # heavy: matplotlib (the learning curve only)

    tmp = out_file.with_suffix(".tmp.png")
    try:
        fig.savefig(tmp, format="png", metadata={"Title": title})
    finally:
        plt.close(fig)
    tmp.replace(out_file)
    return out_file
