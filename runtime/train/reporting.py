"""Per-iteration reporting: what stdout shows of each iteration, progress.csv, TensorBoard events, a learning curve.

Stdout is for a log or for a person (:func:`console_mode`). A log (SageMaker, a container job, a pipe, a file) gets the
metric lines, which match the SageMaker SDK's ``RLEstimator.default_metric_definitions(RLToolkit.RAY)`` regexes
(``episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)``) and Coach's ``^Training>.*Total reward=(.*?),``;
a person at a terminal gets one line per iteration (:func:`compact_line`) under the progress bar.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TextIO

from runtime.errors import JobInterrupted, UserError
from runtime.evaluate.episodes import testing_line
from runtime.metric_lines import OFF_POLICY_ESTIMATES, metric_line
from runtime.paths import FILE, FOLDER, guarded
from runtime.train.curve import plot_learning_curve
from runtime.train.tracking import Tracker

METRIC_LINE_KEYS = (
    "episode_reward_mean",
    "episode_reward_max",
    "episode_reward_min",
    "episode_len_mean",
    "timesteps_total",
    "training_iteration",
    "evaluation_reward_mean",
)

STOP_ALIASES: Mapping[str, str] = {"epochs": "training_iteration", "gradient_steps": "timesteps_total"}
"""Offline stop criteria, named as d3rlpy users name them: an epoch is an iteration, a gradient step a timestep (the
:class:`IterationMetrics` field each stop criterion is compared with)."""


@dataclass(frozen=True)
class IterationMetrics:
    """The numbers reported for one training iteration."""

    training_iteration: int
    timesteps_total: int
    time_total_s: float
    episode_reward_mean: float
    episode_reward_max: float
    episode_reward_min: float
    episode_len_mean: float
    episodes_total: int
    env_steps_per_s: float
    policy_loss: float = math.nan
    """The learner's own numbers for the iteration (RLlib's learner results; d3rlpy's losses), NaN when the
    algorithm has no such quantity: the policy's loss (PPO's surrogate, SAC's actor loss, d3rlpy's imitator or
    actor loss), ..."""
    value_loss: float = math.nan
    """... the value or Q function's loss (PPO's vf_loss, DQN's qf_loss, SAC's critic loss, d3rlpy's TD loss), ..."""
    entropy: float = math.nan
    kl: float = math.nan
    """... the mean KL divergence from the policy that sampled the batch to the one trained (PPO), ..."""
    clip_fraction: float = math.nan
    """... the share of samples whose probability ratio left PPO's clip range, ..."""
    explained_variance: float = math.nan
    learning_rate: float = math.nan
    ope_is: float = math.nan
    """An offline job's off-policy estimates of the epoch's policy (runtime.metric_lines.OFF_POLICY_ESTIMATES),
    NaN where an estimator did not run and in online jobs: importance sampling, ..."""
    ope_wis: float = math.nan
    ope_dr: float = math.nan
    ope_sdr: float = math.nan
    ope_ips: float = math.nan
    ope_dm: float = math.nan
    ope_fqe: float = math.nan
    evaluation_reward_mean: float = math.nan
    """RLlib's evaluation of the iteration's policy (``evaluation_interval``): its episodes' mean return and length,
    NaN in iterations without one."""
    evaluation_len_mean: float = math.nan


def float_or_nan(value: Any) -> float:
    """``value`` as a float; NaN when it is not a number (e.g. None: a metric RLlib did not report)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def metric_lines(metrics: IterationMetrics) -> list[str]:
    """The ``name: value`` lines SageMaker scrapes; metrics that are not finite yet are left out."""
    values = {key: getattr(metrics, key) for key in METRIC_LINE_KEYS}
    return [metric_line(key, value) for key, value in values.items() if math.isfinite(value)]


def coach_training_line(metrics: IterationMetrics, worker: int = 0) -> str | None:
    """A Coach-style ``Training>`` line for the iteration (None before the first episode ends)."""
    if not math.isfinite(metrics.episode_reward_mean):
        return None
    return (
        f"Training> Name=main_level/agent, Worker={worker}, Episode={metrics.episodes_total}, "
        f"Total reward={metrics.episode_reward_mean:.2f}, Steps={metrics.timesteps_total}, "
        f"Training iteration={metrics.training_iteration}"
    )


LINES, COMPACT, QUIET = "lines", "compact", "quiet"
"""What stdout shows of each iteration: the metric lines (and Coach's) a log needs, one line for a person at a
terminal, or nothing (``--quiet``: progress.csv and TensorBoard still get every number)."""


def console_mode(requested: str | None, stream: TextIO, container: bool) -> str:
    """:data:`LINES`, :data:`COMPACT` or :data:`QUIET`: what the user asked for (``--quiet``, ``--verbose`` = lines),
    else one line per iteration when ``stream`` is a terminal outside a container job (``/opt/ml``: SageMaker and
    ``docker run``, whose logs are scraped), else the metric lines."""
    if requested is not None:
        return requested
    return COMPACT if getattr(stream, "isatty", lambda: False)() and not container else LINES


def stop_progress(stop: Mapping[str, Any], metrics: IterationMetrics) -> tuple[str, float]:
    """The stop criterion nearest to ending the job and its progress in [0, 1]: each criterion's value over its
    target (``training_iteration`` 1 of 2 is 50 %; an offline job's ``epochs`` counts its iterations,
    ``gradient_steps`` its timesteps); ("", 0.0) before any has moved."""
    best = ("", 0.0)
    for key, target in stop.items():
        if isinstance(target, bool) or not isinstance(target, (int, float)) or target <= 0:
            continue  # no share of a target at or below zero (Acrobot's reward -100) can be counted
        value = getattr(metrics, STOP_ALIASES.get(key, key), None)
        if isinstance(value, (int, float)) and math.isfinite(float(value)) and float(value) > 0:
            done = min(1.0, float(value) / float(target))
            if done > best[1]:
                best = (key, done)
    return best


def compact_line(
    metrics: IterationMetrics,
    stop: Mapping[str, Any],
    units: tuple[str, str] = ("iteration", "steps"),
    steps_per_s: float = math.nan,
) -> str:
    """One iteration for a person: the counters and their rate, the return over the last episodes (mean, best) and
    the one the stop waits for, an evaluation's return, the off-policy estimates, the time so far and the time left
    to the stop nearest to ending the job (:func:`stop_progress`) at the pace so far."""
    from tqdm import tqdm  # heavy: progress bars (the clock format of the bar above the line)

    rate = f", {steps_per_s:,.0f}/s" if math.isfinite(steps_per_s) else ""
    parts = [f"{units[0]} {metrics.training_iteration}", f"{metrics.timesteps_total:,} {units[1]}{rate}"]
    if math.isfinite(metrics.episode_reward_mean):
        target = stop.get("episode_reward_mean")
        best = f" (max {metrics.episode_reward_max:.4g})" if math.isfinite(metrics.episode_reward_max) else ""
        parts.append(
            f"return {metrics.episode_reward_mean:.4g}{best}"
            + (f" / {target:g}" if isinstance(target, (int, float)) else "")
        )
    if math.isfinite(metrics.evaluation_reward_mean):
        parts.append(f"eval {metrics.evaluation_reward_mean:.4g}")
    estimates = [
        f"{key[4:]} {getattr(metrics, key):.4g}"
        for key, _ in OFF_POLICY_ESTIMATES
        if math.isfinite(getattr(metrics, key))
    ]
    if estimates:
        parts.append(", ".join(estimates))
    _, done = stop_progress(stop, metrics)
    left = metrics.time_total_s * (1 - done) / done if 0 < done < 1 else math.nan
    parts.append(
        tqdm.format_interval(metrics.time_total_s)
        + (f", ETA {tqdm.format_interval(left)}" if math.isfinite(left) else "")
    )
    return " | ".join(parts)


def _rewrite(path: Path, columns: list[str], through: int | None) -> None:
    """Rewrite the CSV ``path`` with ``columns`` (missing values empty) and, given ``through``, only the rows of
    iterations up to it, when either changes anything."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    kept = [row for row in rows if through is None or float_or_nan(row.get("training_iteration")) <= through]
    if header == columns and len(kept) == len(rows):
        return
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
    tmp.replace(path)


class Reporter:
    """Writes every iteration's metrics to stdout (the one place that does), ``progress.csv``, TensorBoard and a
    learning-curve PNG."""

    def __init__(
        self,
        intermediate_dir: Path,
        tensorboard_dir: Path,
        title: str,
        stream: TextIO | None = None,
        plot_every_s: float = 60.0,
        coach_lines: bool = True,
        pass_bar: tuple[str, float] | None = None,
        tensorboard_copy: bool = True,
        resumed_at: tuple[int, int] | None = None,
        console: str = LINES,
        stop: Mapping[str, Any] | None = None,
        units: tuple[str, str] = ("iteration", "steps"),
        kept: Callable[[], str] = str,
        tracker: Tracker | None = None,
    ) -> None:
        """``tensorboard_copy``: write the TensorBoard events into ``intermediate_dir/tensorboard`` as well (SageMaker
        uploads that folder with the job's output; ``tensorboard_dir`` only with a TensorBoard output config).
        ``resumed_at``: the (iteration, timesteps) of the checkpoint a resumed job continues from; what the earlier
        run reported after it (a job killed between checkpoints) is trained again, so its CSV rows and TensorBoard
        points go (TensorBoard's own ``purge_step``). ``console``: what stdout shows of an iteration
        (:func:`console_mode`); ``stop`` and ``units`` (the session's words for an iteration and a step): what its
        one line for a person says (:func:`compact_line`). ``kept``: what the job keeps (its last checkpoint), as a
        sentence added to a failure to write these files (a full or read-only disk). ``tracker``: the job's tracked
        run (``--track mlflow|wandb``), which gets every iteration's metrics too."""
        from tensorboardX import SummaryWriter  # heavy: TensorBoard writer

        self.intermediate_dir = intermediate_dir
        self.kept = kept
        self.tracker = tracker
        self.stream = stream or sys.stdout
        self.title = title
        self.plot_every_s = plot_every_s
        self.coach_lines = coach_lines
        self.pass_bar = pass_bar
        self.console, self.stop, self.units = console, dict(stop or {}), units
        # The counters at the last report, for the rate of an iteration whose session gives none (an offline epoch's
        # gradient steps); unknown before a resumed job's first report.
        self._last: tuple[int, float] | None = (0, 0.0) if resumed_at is None else None
        self.progress_file = intermediate_dir / "progress.csv"
        self.curve_file = intermediate_dir / "learning_curve.png"
        self.tensorboard_dirs = (
            [tensorboard_dir, intermediate_dir / "tensorboard"] if tensorboard_copy else [tensorboard_dir]
        )
        purge = resumed_at[1] + 1 if resumed_at is not None else None
        self._writers = []
        for folder in self.tensorboard_dirs:
            with guarded(folder, "The TensorBoard folder"):
                # Room for far more points than an iteration adds: a writer whose thread stopped (a failed write)
                # is found before the next iteration's (_check_alive); a full queue would block for ever.
                self._writers.append(SummaryWriter(str(folder), flush_secs=30, purge_step=purge, max_queue=1000))
        self._last_plot = time.monotonic()
        columns = [f.name for f in fields(IterationMetrics)]
        with guarded(self.progress_file, "The progress file", FILE):
            intermediate_dir.mkdir(parents=True, exist_ok=True)
            new_file = not self.progress_file.exists() or self.progress_file.stat().st_size == 0
            if not new_file:  # a resumed job (of an older rlrt: same rows, new columns)
                _rewrite(self.progress_file, columns, resumed_at[0] if resumed_at is not None else None)
            self._csv_handle = self.progress_file.open("a", newline="", encoding="utf-8")
            self._csv = csv.DictWriter(self._csv_handle, fieldnames=columns)
            if new_file:
                self._csv.writeheader()

    def report(self, metrics: IterationMetrics, extra: Sequence[str] = ()) -> None:
        """Report one iteration everywhere; ``extra``: the session's own lines of it (an offline epoch's estimates
        and losses), which a log gets after the metric lines."""
        lines = self.console_lines(metrics, extra)
        if lines:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        with self._guarded(self.progress_file, "The progress file", FILE):
            self._csv.writerow(asdict(metrics))
            self._csv_handle.flush()
        scalars = {
            key: float(value)
            for key, value in asdict(metrics).items()
            if key != "training_iteration" and math.isfinite(float(value))
        }
        for writer, folder in zip(self._writers, self.tensorboard_dirs):
            with self._guarded(folder, "The TensorBoard folder"):
                _check_alive(writer)
            for key, value in scalars.items():
                writer.add_scalar(f"rlrt/{key}", value, metrics.timesteps_total)
        if self.tracker is not None:
            self.tracker.log(scalars, metrics.timesteps_total)
        if time.monotonic() - self._last_plot >= self.plot_every_s:
            self.plot()

    def console_lines(self, metrics: IterationMetrics, extra: Sequence[str] = ()) -> list[str]:
        """What stdout shows of the iteration in this reporter's :func:`console_mode`."""
        rate = metrics.env_steps_per_s
        if not math.isfinite(rate) and self._last is not None and metrics.time_total_s > self._last[1]:
            rate = (metrics.timesteps_total - self._last[0]) / (metrics.time_total_s - self._last[1])
        self._last = (metrics.timesteps_total, metrics.time_total_s)
        if self.console == QUIET:
            return []
        if self.console == COMPACT:
            return [compact_line(metrics, self.stop, self.units, rate)]
        lines = metric_lines(metrics)
        coach = coach_training_line(metrics) if self.coach_lines else None
        if coach:
            lines.append(coach)
        if self.coach_lines and math.isfinite(metrics.evaluation_reward_mean):  # Coach's evaluation periods' line
            lines.append(
                testing_line(
                    metrics.episodes_total,
                    metrics.evaluation_reward_mean,
                    metrics.timesteps_total,
                    metrics.training_iteration,
                )
            )
        return [*lines, *extra]

    def plot(self) -> Path | None:
        """Draw ``learning_curve.png`` from ``progress.csv`` (:mod:`runtime.train.curve`)."""
        self._last_plot = time.monotonic()
        with self._guarded(self.curve_file, "The learning curve", FILE):
            return plot_learning_curve(self.progress_file, self.curve_file, self.title, self.pass_bar)

    @contextlib.contextmanager
    def _guarded(self, path: Path, role: str, expect: str = FOLDER) -> Iterator[None]:
        """:func:`runtime.paths.guarded`, the failure saying what the job keeps."""
        try:
            with guarded(path, role, expect):
                yield
        except UserError as exc:
            raise UserError(f"{exc} {self.kept()}".strip()) from exc.__cause__

    def close(self, raise_errors: bool = True, model_dir: Path | None = None) -> None:
        """Flush everything and draw the final learning curve. Each is closed even when one fails (a full or
        read-only disk); the first failure is then raised, naming its path, or (``raise_errors`` False: the job
        is failing already) said in one line. The tracked run ends with the complete ``model_dir`` as its artifact,
        FAILED when the job is failing, KILLED when a signal stopped it."""
        if self.tracker is not None:
            stopped = isinstance(sys.exc_info()[1], JobInterrupted)
            self.tracker.end(model_dir, "FINISHED" if raise_errors else "KILLED" if stopped else "FAILED")
        failures: list[UserError] = []
        with _collect(failures), self._guarded(self.progress_file, "The progress file", FILE):
            self._csv_handle.close()
        for writer, folder in zip(self._writers, self.tensorboard_dirs):
            with _collect(failures), self._guarded(folder, "The TensorBoard folder"):
                try:
                    writer.close()
                except OSError:
                    _forget(writer)  # closed for good: its exit hook would only fail again
                    raise
        if not failures:
            with _collect(failures):
                self.plot()
        if failures and raise_errors:
            raise failures[0]
        for failure in failures:
            print(f"rlrt: warning: {failure}", file=self.stream, flush=True)


@contextlib.contextmanager
def _collect(failures: list[UserError]) -> Iterator[None]:
    try:
        yield
    except UserError as exc:
        failures.append(exc)


def _check_alive(writer: Any) -> None:
    """Raise the disk's error when a TensorBoard writer's thread has stopped (its write failed: a full or read-only
    disk): the events would only fill its queue, and a full queue blocks the next point for ever."""
    for inner in (getattr(writer, "all_writers", None) or {}).values():
        worker = getattr(getattr(inner, "event_writer", None), "_worker", None)
        if worker is not None and not worker.is_alive():
            inner.flush()  # the file's own error, when it still has one
            raise OSError(errno.EIO, "TensorBoard's event writer stopped (the log above says why)")


def _forget(writer: Any) -> None:
    """Mark a TensorBoard writer whose last flush failed closed (its events queue and file), so that its exit hook
    does not print the same disk error again as the process ends."""
    for inner in getattr(writer, "all_writers", {}).values():
        event_writer = getattr(inner, "event_writer", None)
        if event_writer is not None:
            event_writer._closed = True  # noqa: SLF001 - tensorboardX has no public way to drop a failed file
