"""Metric lines, checked against the SageMaker SDK's own regexes, and the files written per iteration."""

from __future__ import annotations

import csv
import io
import logging
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.backends.rllib.results import EPISODES, EpisodeWindow, metrics_from_rllib
from runtime.train.progress import SlowStartNotice
from runtime.train.reporting import IterationMetrics, Reporter, coach_training_line, metric_lines

# Copied from sagemaker.rl.estimator.RLEstimator.default_metric_definitions (SageMaker Python SDK).
FLOAT_REGEX = "[-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?"
RAY_METRICS = {
    "episode_reward_mean": "episode_reward_mean: (%s)" % FLOAT_REGEX,
    "episode_reward_max": "episode_reward_max: (%s)" % FLOAT_REGEX,
}
COACH_METRICS = {
    "reward-training": "^Training>.*Total reward=(.*?),",
    "reward-testing": "^Testing>.*Total reward=(.*?),",
}


def metrics(**overrides: float) -> IterationMetrics:
    values = dict(
        training_iteration=3,
        timesteps_total=12000,
        time_total_s=4.5,
        episode_reward_mean=-102.875,
        episode_reward_max=1.5e-7,
        episode_reward_min=-250.0,
        episode_len_mean=99.5,
        episodes_total=19,
        env_steps_per_s=3000.0,
    )
    values.update(overrides)
    return IterationMetrics(**values)


@pytest.mark.parametrize("value", [-102.875, 0.0, 1.5e-7, 123456789.25, 475.0, -0.5])
def test_sdk_regex_reads_back_the_printed_value(value: float) -> None:
    text = "\n".join(metric_lines(metrics(episode_reward_mean=value, episode_reward_max=value)))
    for name, regex in RAY_METRICS.items():
        match = re.search(regex, text)
        assert match, (name, text)
        assert float(match.group(1)) == pytest.approx(value, rel=1e-5, abs=1e-12)


def test_every_design_metric_line_is_printed_on_its_own_line() -> None:
    lines = metric_lines(metrics())
    assert [line.split(":")[0] for line in lines] == [
        "episode_reward_mean",
        "episode_reward_max",
        "episode_reward_min",
        "episode_len_mean",
        "timesteps_total",
        "training_iteration",
    ]
    assert "timesteps_total: 12000" in lines and "training_iteration: 3" in lines


def test_no_line_for_a_metric_that_is_not_known_yet() -> None:
    lines = metric_lines(
        metrics(episode_reward_mean=math.nan, episode_reward_max=math.nan, episode_reward_min=math.nan)
    )
    assert not any(line.startswith("episode_reward_m") for line in lines)
    assert coach_training_line(metrics(episode_reward_mean=math.nan)) is None


def test_coach_line_matches_the_coach_regex() -> None:
    line = coach_training_line(metrics())
    match = re.search(COACH_METRICS["reward-training"], line)
    assert match and float(match.group(1)) == pytest.approx(-102.88)
    assert line.startswith("Training> Name=main_level/agent, Worker=0, Episode=19, ")


def test_metrics_from_an_rllib_result() -> None:
    result = {
        "env_runners": {
            "episode_return_mean": 20.5,
            "episode_return_max": 50.0,
            "episode_return_min": 9.0,
            "episode_len_mean": 20.5,
            "num_episodes": 3,
            "num_env_steps_sampled": 1000,
        },
        "time_this_iter_s": 0.5,
    }
    m = metrics_from_rllib(result, 1, 1000, 40, 0.5)
    assert (m.episode_reward_mean, m.episode_reward_max, m.env_steps_per_s) == (20.5, 50.0, 2000.0)
    assert math.isnan(metrics_from_rllib({}, 1, 0, 0, 0).episode_reward_mean)


def test_rllibs_evaluation_reaches_the_metric_lines_the_csv_and_a_testing_line(tmp_path: Path) -> None:
    """``evaluation_interval``'s results: an ``evaluation_reward_mean`` line, two CSV columns (empty in iterations
    without an evaluation) and, for the Coach SDK's regex, a ``Testing>`` line."""
    result = {
        "env_runners": {"episode_return_mean": 20.5, "num_episodes": 2},
        "evaluation": {"env_runners": {"episode_return_mean": 31.25, "episode_len_mean": 31.25}},
    }
    evaluated = metrics_from_rllib(result, 2, 400, 10, 1.0)
    assert (evaluated.evaluation_reward_mean, evaluated.evaluation_len_mean) == (31.25, 31.25)
    assert "evaluation_reward_mean: 31.25" in metric_lines(evaluated)
    plain = metrics_from_rllib({"env_runners": result["env_runners"]}, 1, 200, 5, 0.5)
    assert math.isnan(plain.evaluation_reward_mean)
    assert not any(line.startswith("evaluation_") for line in metric_lines(plain))
    out = io.StringIO()
    reporter = Reporter(tmp_path / "intermediate", tmp_path / "tensorboard", "test", out)
    reporter.report(plain)
    reporter.report(evaluated)
    reporter.close()
    testing = [line for line in out.getvalue().splitlines() if line.startswith("Testing>")]
    assert len(testing) == 1 and float(re.search(COACH_METRICS["reward-testing"], testing[0]).group(1)) == 31.25
    rows = list(csv.DictReader((tmp_path / "intermediate" / "progress.csv").open()))
    assert [row["evaluation_reward_mean"] for row in rows] == ["nan", "31.25"]


def test_an_iteration_without_an_evaluation_reports_none() -> None:
    """RLlib's result of an iteration between two evaluations still holds the last one's numbers."""
    from types import SimpleNamespace

    from runtime.backends.rllib.results import evaluated_this_iteration

    result = {
        "env_runners": {"episode_return_mean": 20.5, "num_episodes": 2},
        "evaluation": {"env_runners": {"episode_return_mean": 31.25, "episode_len_mean": 31.25}},
    }
    assert math.isnan(metrics_from_rllib(result, 3, 600, 10, 1.0, evaluated=False).evaluation_reward_mean)
    algo = SimpleNamespace(config=SimpleNamespace(evaluation_interval=2), iteration=2)
    assert evaluated_this_iteration(algo)
    assert not evaluated_this_iteration(SimpleNamespace(config=algo.config, iteration=3))
    assert not evaluated_this_iteration(SimpleNamespace(config=SimpleNamespace(evaluation_interval=None), iteration=2))


def _result(returns: list[float]) -> dict:
    """An RLlib 2.x result for an iteration in which these episodes ended, as rlrt's callback logs them (RLlib
    gives a one-item list as that item)."""
    items = [(r, r) for r in returns]
    runners = {"num_episodes": len(returns), "num_env_steps_sampled": 200}
    if items:
        runners[EPISODES] = items if len(items) > 1 else items[0]
    return {"env_runners": runners}


def test_episode_numbers_are_over_the_last_100_episodes_like_sb3() -> None:
    rng = np.random.default_rng(0)
    window = EpisodeWindow(100)
    history: list[float] = []
    for iteration in range(1, 60):
        returns = [float(r) for r in rng.uniform(0, 500, size=int(rng.integers(0, 12)))]
        history.extend(returns)
        m = metrics_from_rllib(_result(returns), iteration, iteration * 200, 0, float(iteration), window=window)
        kept = history[-100:]
        if not kept:
            assert math.isnan(m.episode_reward_mean) and "episode_reward_mean" not in "".join(metric_lines(m))
            continue
        assert m.episode_reward_mean == pytest.approx(np.mean(kept), rel=1e-12)
        assert (m.episode_reward_max, m.episode_reward_min) == (max(kept), min(kept))
        assert m.episode_len_mean == pytest.approx(np.mean(kept), rel=1e-12)


def test_without_rlrts_count_rllibs_own_sum_maximum_and_minimum_are_kept() -> None:
    """A multi-agent job's numbers are RLlib's: its iteration's mean, maximum and minimum, weighted by its count."""
    result = {
        "env_runners": {
            "num_episodes": 4,
            "episode_return_mean": 10.0,
            "episode_return_max": 25.0,
            "episode_return_min": 1.0,
            "episode_len_mean": 7.0,
        }
    }
    window = EpisodeWindow(100, [(30.0, 5.0)])
    m = metrics_from_rllib(result, 1, 100, 4, 1.0, window=window)
    assert (m.episode_reward_mean, m.episode_reward_max, m.episode_reward_min) == (14.0, 30.0, 1.0)
    assert m.episode_len_mean == pytest.approx((5 + 4 * 7) / 5)


def test_an_iteration_in_which_no_episode_ended_repeats_the_last_episode_numbers() -> None:
    # A policy that balances longer than one train batch ends no episode in an iteration; SageMaker's objective
    # line must still appear (RLlib 1.x's window did that).
    window = EpisodeWindow(100)
    first = metrics_from_rllib(_result([150.0, 210.0]), 1, 200, 2, 1.0, window=window)
    quiet = metrics_from_rllib(_result([]), 2, 400, 2, 2.0, window=window)
    assert (quiet.episode_reward_mean, quiet.episode_reward_max, quiet.episode_reward_min) == (180.0, 210.0, 150.0)
    assert (quiet.training_iteration, quiet.timesteps_total) == (2, 400)
    assert "episode_reward_mean: 180" in metric_lines(quiet) and first.episode_reward_mean == 180.0
    # Without a window the numbers are the iteration's own.
    assert metrics_from_rllib(_result([500.0]), 3, 600, 3, 3.0).episode_reward_mean == 500.0


def test_reporter_writes_csv_tensorboard_and_png(tmp_path: Path) -> None:
    out = io.StringIO()
    reporter = Reporter(tmp_path / "intermediate", tmp_path / "tensorboard", "test", out)
    for i in range(1, 4):
        reporter.report(metrics(training_iteration=i, timesteps_total=1000 * i, episode_reward_mean=10.0 * i))
    reporter.close()
    rows = list(csv.DictReader((tmp_path / "intermediate" / "progress.csv").open()))
    assert [float(r["episode_reward_mean"]) for r in rows] == [10.0, 20.0, 30.0]
    assert (tmp_path / "intermediate" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert out.getvalue().count("episode_reward_mean: ") == 3
    # A resumed job appends to the same CSV without a second header.
    again = Reporter(tmp_path / "intermediate", tmp_path / "tensorboard", "test", io.StringIO())
    again.report(metrics(training_iteration=4))
    again.close()
    assert len(list(csv.DictReader((tmp_path / "intermediate" / "progress.csv").open()))) == 4


def test_progress_bar_counts_toward_the_stop_nearest_to_ending_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """with training_iteration=2 beside the preset's timesteps_total 300000, the bar counts iterations
    (it showed an ETA of 14 minutes for a 20 s job). It is on the screen only while an iteration runs, and a line
    written meanwhile (stdout, stderr, a log record) takes it off first: no line is glued to it."""
    from runtime.log_lines import RlrtFormatter, StderrHandler
    from runtime.train.progress import ProgressBar

    screen = io.StringIO()  # one terminal: the bar, stdout and stderr all write to it
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    stop = {"timesteps_total": 300000, "training_iteration": 2, "episode_reward_mean": 475}
    bar = ProgressBar(stop, enabled=True, file=screen)
    assert screen.getvalue() == ""  # not drawn until an iteration runs
    assert bar.nearest(metrics(timesteps_total=4000, training_iteration=1, episode_reward_mean=20.0)) == (
        "training_iteration",
        0.5,
    )
    bar.update(metrics(timesteps_total=4000, training_iteration=1, episode_reward_mean=20.0))
    assert screen.getvalue() == ""
    handler = StderrHandler()
    handler.setFormatter(RlrtFormatter())
    logger = logging.getLogger("runtime.test_progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with bar.while_running():
            print("(RolloutWorker pid=1) a runner's line")
            logger.warning("a log record")
            sys.stdout.write("episode_")
            time.sleep(1.3)  # the bar's each-second redraw waits for the line's end
            sys.stdout.write("reward_mean: 1\n")
        print("training_iteration: 2")  # between iterations: the bar is off the screen
    finally:
        logger.removeHandler(handler)
    bar.close()
    text = screen.getvalue()
    assert "training (training_iteration 1 of 2):  50%|" in text and "reward=20" in text
    shown = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    assert shown == [
        "(RolloutWorker pid=1) a runner's line",
        "rlrt: a log record",
        "episode_reward_mean: 1",
        "training_iteration: 2",
        "",
    ], text
    assert text.count("training (") >= 4  # drawn again below each line while the iteration ran
    silent = ProgressBar({"timesteps_total": 10}, enabled=False, file=screen)
    with silent.while_running():
        pass
    silent.update(metrics())
    silent.close()
    assert screen.getvalue() == text


def test_the_learner_statistics_come_from_rllibs_result() -> None:
    """RLlib 2.x's learner results (PPO: policy_loss, vf_loss, entropy, mean_kl_loss, vf_explained_var, the optimizer's
    learning rate; rlrt's own learner adds the KL and the clip fraction, RLlib's KL being 0 with its penalty off;
    SAC/DQN: actor_loss, critic/qf_loss) fill the learner columns of progress.csv and TensorBoard."""
    from runtime.backends.rllib.results import learner_stats

    ppo = {
        "learners": {
            "__all_modules__": {"num_env_steps_trained": 4000},
            "default_policy": {
                "policy_loss": -0.02,
                "vf_loss": 3.5,
                "entropy": 0.69,
                "mean_kl_loss": 0.0,
                "rlrt_kl": 0.01,
                "rlrt_clip_fraction": 0.125,
                "vf_explained_var": 0.2,
                "default_optimizer_learning_rate": 3e-4,
            },
        }
    }
    assert learner_stats(ppo) == {
        "policy_loss": -0.02,
        "value_loss": 3.5,
        "entropy": 0.69,
        "kl": 0.01,
        "clip_fraction": 0.125,
        "explained_variance": 0.2,
        "learning_rate": 3e-4,
    }
    sac = learner_stats({"learners": {"default_policy": {"actor_loss": 1.0, "critic_loss": 2.0}}})
    assert (sac["policy_loss"], sac["value_loss"]) == (1.0, 2.0) and math.isnan(sac["kl"])
    assert all(math.isnan(v) for v in learner_stats({}).values())


def test_a_resumed_progress_csv_gets_the_new_columns(tmp_path: Path) -> None:
    """A job resumed in a tree an older rlrt wrote: the rows are kept under the current header."""
    from runtime.train.reporting import Reporter

    intermediate = tmp_path / "intermediate"
    intermediate.mkdir()
    (intermediate / "progress.csv").write_text("training_iteration,timesteps_total\n1,100\n")
    reporter = Reporter(intermediate, tmp_path / "tb", "t", stream=io.StringIO())
    reporter.report(metrics(training_iteration=2, timesteps_total=200))
    reporter.close()
    rows = list(csv.DictReader((intermediate / "progress.csv").open()))
    assert [r["training_iteration"] for r in rows] == ["1", "2"] and "policy_loss" in rows[0]


def test_the_learning_curve_draws_one_iteration_and_the_pass_bar(tmp_path: Path) -> None:
    """A one-iteration job's curve shows its point (it was blank), and the preset's pass bar is a dashed line (issue
    28), found by their colours in the PNG."""
    import matplotlib.image

    from runtime.train.curve import plot_learning_curve

    progress = tmp_path / "progress.csv"
    progress.write_text(
        "training_iteration,timesteps_total,episode_reward_mean,episode_reward_min,episode_reward_max\n"
        "1,4000,20.0,10.0,30.0\n"
    )
    png = plot_learning_curve(progress, tmp_path / "curve.png", "t", pass_bar=("episode_reward_mean", 475.0))
    pixels = (matplotlib.image.imread(str(png))[..., :3] * 255).round()

    def count(rgb: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= 10).sum())

    assert count((31, 119, 180)) > 20  # the point (matplotlib's first colour, tab:blue)
    assert count((44, 160, 44)) > 100  # the pass bar (tab:green)
    without = plot_learning_curve(progress, tmp_path / "plain.png", "t")
    assert (
        count((44, 160, 44))
        > (
            np.abs((matplotlib.image.imread(str(without))[..., :3] * 255).round() - np.array((44, 160, 44))).max(
                axis=-1
            )
            <= 10
        ).sum()
    )


def test_a_slow_first_iteration_gets_one_line_and_a_quick_one_none() -> None:
    slow = io.StringIO()
    notice = SlowStartNotice(slow, "iteration", delay_s=0.05)
    time.sleep(0.3)
    notice.cancel()
    assert slow.getvalue() == (
        "rlrt: iteration 1 is still running after 0.05 s; its metric lines are printed when it ends\n"
    )
    quick = io.StringIO()
    SlowStartNotice(quick, "epoch", delay_s=0.2).cancel()
    off = io.StringIO()
    SlowStartNotice(off, "iteration", delay_s=0.01, enabled=False)
    time.sleep(0.4)
    assert quick.getvalue() == "" and off.getvalue() == ""


def test_an_offline_jobs_bar_counts_its_epochs_not_its_time_limit() -> None:
    """An offline job that stops at ``epochs: 4`` or ``time_total_s: 200``: after epoch 1 of 4 in 10 s the epochs end
    the job first, and the bar counts them (it counted toward time_total_s: 5 %)."""
    from runtime.train.progress import ProgressBar

    screen = io.StringIO()
    bar = ProgressBar({"epochs": 4, "time_total_s": 200}, enabled=True, file=screen)
    assert bar.nearest(metrics(training_iteration=1, time_total_s=10.0)) == ("epochs", 0.25)
    assert ProgressBar({"gradient_steps": 1000, "time_total_s": 200}, enabled=True, file=screen).nearest(
        metrics(training_iteration=1, timesteps_total=500, time_total_s=10.0)
    ) == ("gradient_steps", 0.5)
    bar.update(metrics(training_iteration=1, time_total_s=10.0))
    with bar.while_running():
        pass
    bar.close()
    assert "training (epochs 1 of 4):  25%|" in screen.getvalue()


def test_a_job_resumed_from_an_earlier_checkpoint_reports_its_iterations_once(tmp_path: Path) -> None:
    """A job killed at iteration 3 with its newest checkpoint at 2 trains iteration 3 again: progress.csv holds it
    once, and TensorBoard (read back with its own reader) drops the earlier run's points after the checkpoint."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # heavy: TensorBoard

    def run(iterations: range, resumed_at: tuple[int, int] | None, reward: float) -> None:
        reporter = Reporter(
            tmp_path / "intermediate", tmp_path / "tensorboard", "test", io.StringIO(), resumed_at=resumed_at
        )
        for i in iterations:
            reporter.report(IterationMetrics(i, 100 * i, float(i), reward, reward, reward, 10.0, i, 1.0))
        reporter.close()

    run(range(1, 4), None, 1.0)
    time.sleep(1.1)  # TensorBoard orders event files by the second in their names, as two real runs are apart
    run(range(3, 5), (2, 200), 2.0)
    rows = list(csv.DictReader((tmp_path / "intermediate" / "progress.csv").open()))
    assert [(row["training_iteration"], row["episode_reward_mean"]) for row in rows] == [
        ("1", "1.0"),
        ("2", "1.0"),
        ("3", "2.0"),
        ("4", "2.0"),
    ]
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    points = [(e.step, e.value) for e in events.Scalars("rlrt/episode_reward_mean")]
    assert points == [(100, 1.0), (200, 1.0), (300, 2.0), (400, 2.0)]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_outside_a_container_job_gets_one_line_per_iteration() -> None:
    """A person at a terminal gets one line an iteration; a log (a pipe, a file, SageMaker's or a container job's
    /opt/ml, even with `docker run -t`) the metric lines SageMaker's regexes scrape; --quiet and --verbose win."""
    from runtime.train.reporting import COMPACT, LINES, QUIET, console_mode

    assert console_mode(None, Terminal(), container=False) == COMPACT
    assert console_mode(None, io.StringIO(), container=False) == LINES
    assert console_mode(None, Terminal(), container=True) == LINES
    assert console_mode(LINES, Terminal(), container=False) == LINES
    assert console_mode(QUIET, io.StringIO(), container=True) == QUIET


def test_the_line_per_iteration_says_the_rate_the_return_against_the_stop_and_the_time_left(tmp_path: Path) -> None:
    from runtime.train.reporting import COMPACT, QUIET, compact_line

    stop = {"episode_reward_mean": 475, "timesteps_total": 300000, "training_iteration": 4}
    line = compact_line(
        metrics(
            training_iteration=1,
            timesteps_total=2048,
            time_total_s=6.0,
            episode_reward_mean=18.3,
            episode_reward_max=42.0,
            evaluation_reward_mean=9.0,
        ),
        stop,
        steps_per_s=341.3,
    )
    # The iterations end the job first: 1 of 4 in 6 s leaves 18 s.
    assert line == "iteration 1 | 2,048 steps, 341/s | return 18.3 (max 42) / 475 | eval 9 | 00:06, ETA 00:18"
    offline = compact_line(
        IterationMetrics(
            2, 2000, 10.0, math.nan, math.nan, math.nan, math.nan, 0, math.nan, ope_wis=0.93, ope_sdr=0.88
        ),
        {"epochs": 2},
        ("epoch", "gradient steps"),
    )
    assert offline == "epoch 2 | 2,000 gradient steps | wis 0.93, sdr 0.88 | 00:10"
    out = Terminal()
    reporter = Reporter(
        tmp_path / "i",
        tmp_path / "tb",
        "t",
        out,
        console=COMPACT,
        stop={"epochs": 4},
        units=("epoch", "gradient steps"),
    )
    for epoch in (1, 2):  # an offline session gives no rate: the reporter counts it from its reports
        reporter.report(
            IterationMetrics(epoch, 500 * epoch, 5.0 * epoch, 10.0, 12.0, 8.0, 9.0, 3, math.nan),
            ["ope_wis: 1", "policy_loss: 0.5"],
        )
    assert out.getvalue().splitlines() == [
        "epoch 1 | 500 gradient steps, 100/s | return 10 (max 12) | 00:05, ETA 00:15",
        "epoch 2 | 1,000 gradient steps, 100/s | return 10 (max 12) | 00:10, ETA 00:10",
    ]
    silent = io.StringIO()
    quiet = Reporter(tmp_path / "q", tmp_path / "tbq", "t", silent, console=QUIET)
    quiet.report(metrics())
    quiet.close()
    reporter.close()
    assert silent.getvalue() == "" and len(list(csv.DictReader((tmp_path / "q" / "progress.csv").open()))) == 1
