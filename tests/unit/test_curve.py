"""``learning_curve.png``: an offline job's curve draws its off-policy estimates per epoch, one labelled
line per estimator, as the Batch RL seed notebook plots its OPE CSV; an online job's stays the return against steps."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import fields
from pathlib import Path

from runtime.metric_lines import OFF_POLICY_ESTIMATES
from runtime.offline.ope import METRIC_COLUMNS
from runtime.train.curve import curve_series, learning_curve_figure, plot_learning_curve, read_progress
from runtime.train.reporting import IterationMetrics, Reporter

NAN = math.nan


def _offline_metrics(epoch: int, wis: float, sdr: float, dr: float, reward: float = NAN) -> IterationMetrics:
    return IterationMetrics(
        epoch,
        250 * epoch,
        float(epoch),
        reward,
        reward + 1,
        reward - 1,
        200.0,
        0,
        NAN,
        ope_wis=wis,
        ope_sdr=sdr,
        ope_dr=dr,
    )


def test_progress_csv_has_one_column_per_off_policy_estimate() -> None:
    """The progress.csv columns and the OPE lines (and Coach's CSV names) are one list."""
    columns = [f.name for f in fields(IterationMetrics) if f.name.startswith("ope_")]
    assert columns == [key for key, _ in OFF_POLICY_ESTIMATES] == list(METRIC_COLUMNS)


def test_an_offline_curve_is_per_epoch_with_one_labelled_line_per_estimator(tmp_path: Path) -> None:
    reporter = Reporter(
        tmp_path / "intermediate", tmp_path / "tb", "offline", io.StringIO(), pass_bar=("episode_reward_mean", 195.0)
    )
    reporter.report(_offline_metrics(1, 10.0, 11.0, 0.9))
    reporter.report(_offline_metrics(2, 12.5, NAN, 0.95))  # an estimator that did not run in an epoch: no point
    reporter.close()
    progress = tmp_path / "intermediate" / "progress.csv"
    with progress.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["ope_wis"] for r in rows] == ["10.0", "12.5"] and rows[1]["ope_sdr"] == "nan"

    curve = curve_series(read_progress(progress), ("episode_reward_mean", 195.0))
    assert curve is not None and curve.xlabel == "epoch"
    # No evaluation return (evaluation_episodes 0): the return-estimate panel, then the one-step panel.
    returns, one_step = curve.panels
    assert [(s.label, s.x, s.y) for s in returns.lines] == [
        ("Weighted Importance Sampling (ope_wis)", (1.0, 2.0), (10.0, 12.5)),
        ("Sequential Doubly Robust (ope_sdr)", (1.0,), (11.0,)),
    ]
    assert [(s.label, s.y) for s in one_step.lines] == [("Doubly Robust (ope_dr)", (0.9, 0.95))]
    assert returns.pass_bar is None and one_step.pass_bar is None  # the bar is a return, not an estimate
    assert (tmp_path / "intermediate" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"

    import matplotlib.pyplot as plt

    figure = learning_curve_figure(curve, "t")
    drawn = {line.get_label(): list(line.get_ydata()) for ax in figure.axes for line in ax.get_lines()}
    plt.close(figure)
    assert drawn == {
        "Weighted Importance Sampling (ope_wis)": [10.0, 12.5],
        "Sequential Doubly Robust (ope_sdr)": [11.0],
        "Doubly Robust (ope_dr)": [0.9, 0.95],
    }


def test_an_offline_curve_with_evaluation_draws_the_return_and_the_pass_bar_above_the_estimates() -> None:
    rows = [
        {
            "training_iteration": 1.0,
            "episode_reward_mean": 150.0,
            "episode_reward_min": 120.0,
            "episode_reward_max": 180.0,
            "ope_fqe": 15.0,
        }
    ]
    curve = curve_series(rows, ("episode_reward_mean", 195.0))
    assert curve is not None
    evaluation, estimates = curve.panels
    assert evaluation.pass_bar == 195.0 and evaluation.lines[0].band == ((120.0,), (180.0,))
    assert [s.y for s in evaluation.lines] == [(150.0,)]
    assert [s.label for s in estimates.lines] == ["Fitted Q Evaluation (ope_fqe)"]

    import matplotlib.pyplot as plt

    figure = learning_curve_figure(curve, "t")
    top = figure.axes[0]
    bars = [line for line in top.get_lines() if line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in bars] == [[195.0, 195.0]]
    assert all(line.get_linestyle() != "--" for line in figure.axes[1].get_lines())
    plt.close(figure)


def test_an_online_curve_is_the_return_against_environment_steps(tmp_path: Path) -> None:
    rows = [
        {
            "training_iteration": 1.0,
            "timesteps_total": 4000.0,
            "episode_reward_mean": 20.0,
            "episode_reward_min": 10.0,
            "episode_reward_max": 30.0,
            "ope_wis": NAN,
        },
        {"training_iteration": 2.0, "timesteps_total": 8000.0, "episode_reward_mean": NAN},
    ]
    curve = curve_series(rows, ("episode_reward_mean", 475.0))
    assert curve is not None and curve.xlabel == "environment steps" and len(curve.panels) == 1
    assert [(s.x, s.y) for s in curve.panels[0].lines] == [((4000.0,), (20.0,))]
    assert curve.panels[0].pass_bar == 475.0
    assert curve_series([{"timesteps_total": 4000.0, "episode_reward_mean": NAN}]) is None
    progress = tmp_path / "progress.csv"
    progress.write_text("training_iteration,timesteps_total,episode_reward_mean\n1,4000,\n")
    assert plot_learning_curve(progress, tmp_path / "curve.png", "t") is None and not (tmp_path / "curve.png").exists()


def test_a_flat_curve_looks_flat_and_a_long_title_fits() -> None:
    """An Acrobot policy stuck at -499 to -498 filled the whole height (-499 to -498 on the axis), as if noise were
    progress: the axis spans a tenth of the values at least. The BCQ job's title (what trained, its epochs and
    batch, its preset) ran past the figure's edges: it is wrapped to fit."""
    import matplotlib.pyplot as plt

    rows = [
        {
            "training_iteration": float(i),
            "timesteps_total": 4096.0 * i,
            "episode_reward_mean": -499.0 + (i % 2),
            "episode_reward_min": -500.0 + (i % 2),
            "episode_reward_max": -498.0 + (i % 2),
        }
        for i in range(1, 9)
    ]
    curve = curve_series(rows)
    assert curve is not None
    title = "DiscreteBCQ (d3rlpy) offline on CartPole-v0, 1000 gradient steps per epoch, batch 32 (preset cartpole-bcq)"
    fig = learning_curve_figure(curve, title)
    try:
        low, high = fig.axes[0].get_ylim()
        assert high - low >= 0.1 * 500 - 1e-9 and low <= -500 and high >= -497, (low, high)
        fig.canvas.draw()
        shown = fig.axes[0].title.get_window_extent()
        assert shown.x0 >= 0 and shown.x1 <= fig.bbox.width and shown.y1 <= fig.bbox.height, (shown, fig.bbox)
        assert fig.axes[0].title.get_text().replace("\n", " ") == title
    finally:
        plt.close(fig)
    steep = curve_series([{**row, "episode_reward_mean": 10.0 * row["training_iteration"]} for row in rows])
    assert steep is not None
    fig = learning_curve_figure(steep, "t")
    try:
        low, high = fig.axes[0].get_ylim()
        assert high - low < 1000  # a curve that moves keeps matplotlib's own axis
    finally:
        plt.close(fig)
