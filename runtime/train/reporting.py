"""Per-iteration reporting: SageMaker metric lines on stdout, progress.csv, TensorBoard events, a learning curve.

The stdout lines match the SageMaker SDK's ``RLEstimator.default_metric_definitions(RLToolkit.RAY)`` regexes
(``episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)``) and Coach's ``^Training>.*Total reward=(.*?),``.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping, TextIO

from runtime.evaluate.episodes import testing_line
from runtime.train.curve import plot_learning_curve

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


LEARNER_STATS: Mapping[str, tuple[str, ...]] = {
    "policy_loss": ("policy_loss", "actor_loss"),
    "value_loss": ("vf_loss", "qf_loss", "critic_loss"),
    "entropy": ("entropy",),
    "kl": ("rlrt_kl", "mean_kl_loss"),  # RLlib's own is a constant 0 unless its KL penalty is on
    "clip_fraction": ("rlrt_clip_fraction",),
    "explained_variance": ("vf_explained_var",),
    "learning_rate": ("default_optimizer_learning_rate",),
}
"""IterationMetrics' learner fields and the RLlib 2.x learner-result keys they come from (first found)."""


def learner_stats(result: Mapping[str, Any]) -> dict[str, float]:
    """The learner statistics of an RLlib result (its first module's, the default policy's when there is one)."""
    learners = result.get("learners") or {}
    modules = {k: v for k, v in learners.items() if isinstance(v, Mapping) and k != "__all_modules__"}
    stats = modules.get("default_policy") or next(iter(modules.values()), {})
    found: dict[str, float] = {}
    for field_name, keys in LEARNER_STATS.items():
        value = next((stats[k] for k in keys if k in stats), None)
        found[field_name] = _float_or_nan(value)
    return found


def _float_or_nan(value: Any) -> float:
    """``value`` as a float; NaN when it is not a number (e.g. None: a metric RLlib did not report)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


EPISODES = "rlrt_episodes"
LENGTH_SUM = "rlrt_episode_len_sum"
RETURN_SUM = "rlrt_episode_return_sum"
RETURN_MAX = "rlrt_episode_return_max"
RETURN_MIN = "rlrt_episode_return_min"
"""The exact per-iteration episode sums rlrt's RLlib callback logs (runtime.backends.rllib.episode_metrics)."""


class EpisodeWindow:
    """The last ``size`` finished episodes' statistics, as RLlib 1.x and Stable-Baselines3 smooth them.

    RLlib 2.x reports the returns of the episodes that ended *in this iteration* (none at all when a CartPole policy
    balances longer than one train batch), while the seeds' stop criteria (``episode_reward_mean: 18``) and SB3's
    ``ep_rew_mean`` mean the last 100 episodes. The window keeps each iteration's (mean, max, min, length, count) and
    reports over the newest iterations that together hold at least ``size`` episodes: the mean over those episodes
    (sum = mean x count; exact while an env runner ends fewer than ``size / runners`` episodes an iteration, beyond
    which RLlib's own iteration mean covers only the newest of them). An iteration in which no episode ended repeats
    the previous numbers.
    """

    def __init__(self, size: int = 100) -> None:
        self.size = max(1, int(size))
        self._iterations: list[tuple[float, float, float, float, int]] = []

    def add(self, mean: float, maximum: float, minimum: float, length: float, count: int) -> None:
        """Add one iteration's episode statistics (ignored when no episode ended in it)."""
        if count <= 0 or not math.isfinite(mean):
            return
        self._iterations.append((mean, maximum, minimum, length, count))
        while sum(it[4] for it in self._iterations[1:]) >= self.size:
            self._iterations.pop(0)

    def summary(self) -> dict[str, float]:
        """``episode_reward_mean/max/min`` and ``episode_len_mean`` over the window (NaN before the first episode)."""
        if not self._iterations:
            return dict.fromkeys(("episode_reward_mean", "episode_reward_max", "episode_reward_min",
                                  "episode_len_mean"), math.nan)
        total = sum(it[4] for it in self._iterations)

        def finite(values: list[float], pick: Any) -> float:
            kept = [v for v in values if math.isfinite(v)]
            return pick(kept) if kept else math.nan

        return {
            "episode_reward_mean": sum(it[0] * it[4] for it in self._iterations) / total,
            "episode_reward_max": finite([it[1] for it in self._iterations], max),
            "episode_reward_min": finite([it[2] for it in self._iterations], min),
            "episode_len_mean": (sum(it[3] * it[4] for it in self._iterations) / total
                                 if all(math.isfinite(it[3]) for it in self._iterations) else math.nan),
        }


def metrics_from_rllib(
    result: Mapping[str, Any],
    iteration: int,
    timesteps_total: int,
    episodes_total: int,
    time_total_s: float,
    window: EpisodeWindow | None = None,
) -> IterationMetrics:
    """Pick the reported numbers out of an RLlib (new API stack) result dict.

    With a ``window`` the episode numbers are smoothed over its last episodes (see :class:`EpisodeWindow`); without
    one they are this iteration's own.
    """
    runners = result.get("env_runners", {}) or {}
    window = window if window is not None else EpisodeWindow(size=1)
    exact = _float_or_nan(runners.get(EPISODES))
    if math.isfinite(exact) and exact > 0:  # rlrt's own count: each timestep once (see episode_metrics)
        window.add(_float_or_nan(runners.get(RETURN_SUM)) / exact, _float_or_nan(runners.get(RETURN_MAX)),
                   _float_or_nan(runners.get(RETURN_MIN)), _float_or_nan(runners.get(LENGTH_SUM)) / exact, int(exact))
    else:
        mean = _float_or_nan(runners.get("episode_return_mean"))
        count = _float_or_nan(runners.get("num_episodes"))
        window.add(
            mean,
            _float_or_nan(runners.get("episode_return_max")),
            _float_or_nan(runners.get("episode_return_min")),
            _float_or_nan(runners.get("episode_len_mean")),
            int(count) if math.isfinite(count) else int(math.isfinite(mean)),  # a result without a count: one episode
        )
    return IterationMetrics(
        training_iteration=iteration,
        timesteps_total=timesteps_total,
        time_total_s=time_total_s,
        episodes_total=episodes_total,
        env_steps_per_s=_float_or_nan(runners.get("num_env_steps_sampled"))
        / max(1e-9, _float_or_nan(result.get("time_this_iter_s"))),
        **window.summary(),
        **learner_stats(result),
        **evaluation_stats(result),
    )


def evaluation_stats(result: Mapping[str, Any]) -> dict[str, float]:
    """The mean return and length of an RLlib result's evaluation episodes (NaN when the iteration ran none)."""
    runners = (result.get("evaluation") or {}).get("env_runners") or {}
    return {"evaluation_reward_mean": _float_or_nan(runners.get("episode_return_mean")),
            "evaluation_len_mean": _float_or_nan(runners.get("episode_len_mean"))}


def format_value(value: float | int) -> str:
    """A number as the SDK regex reads it (no 'nan'/'inf': those lines are not printed)."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.6e}"


def metric_lines(metrics: IterationMetrics) -> list[str]:
    """The ``name: value`` lines SageMaker scrapes; metrics that are not finite yet are left out."""
    lines = []
    for key in METRIC_LINE_KEYS:
        value = getattr(metrics, key)
        if isinstance(value, float) and not math.isfinite(value):
            continue
        lines.append(f"{key}: {format_value(value)}")
    return lines


def coach_training_line(metrics: IterationMetrics, worker: int = 0) -> str | None:
    """A Coach-style ``Training>`` line for the iteration (None before the first episode ends)."""
    if not math.isfinite(metrics.episode_reward_mean):
        return None
    return (
        f"Training> Name=main_level/agent, Worker={worker}, Episode={metrics.episodes_total}, "
        f"Total reward={metrics.episode_reward_mean:.2f}, Steps={metrics.timesteps_total}, "
        f"Training iteration={metrics.training_iteration}"
    )


def _with_columns(path: Path, columns: list[str]) -> None:
    """Rewrite the CSV ``path`` with ``columns`` when its header differs (missing values empty)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames == columns:
            return
        rows = list(reader)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


class Reporter:
    """Writes every iteration's metrics to stdout, ``progress.csv``, TensorBoard and a learning-curve PNG."""

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
    ) -> None:
        """``tensorboard_copy``: write the TensorBoard events into ``intermediate_dir/tensorboard`` as well (SageMaker
        uploads that folder with the job's output; ``tensorboard_dir`` only with a TensorBoard output config)."""
        from tensorboardX import SummaryWriter  # heavy: TensorBoard writer

        self.intermediate_dir = intermediate_dir
        self.stream = stream or sys.stdout
        self.title = title
        self.plot_every_s = plot_every_s
        self.coach_lines = coach_lines
        self.pass_bar = pass_bar
        intermediate_dir.mkdir(parents=True, exist_ok=True)
        tensorboard_dir.mkdir(parents=True, exist_ok=True)
        self.progress_file = intermediate_dir / "progress.csv"
        self.curve_file = intermediate_dir / "learning_curve.png"
        folders = [tensorboard_dir, intermediate_dir / "tensorboard"] if tensorboard_copy else [tensorboard_dir]
        self._writers = [SummaryWriter(str(folder), flush_secs=30) for folder in folders]
        self._last_plot = time.monotonic()
        columns = [f.name for f in fields(IterationMetrics)]
        new_file = not self.progress_file.exists() or self.progress_file.stat().st_size == 0
        if not new_file:
            _with_columns(self.progress_file, columns)  # a resumed job of an older rlrt: same rows, new columns
        self._csv_handle = self.progress_file.open("a", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_handle, fieldnames=columns)
        if new_file:
            self._csv.writeheader()

    def report(self, metrics: IterationMetrics) -> None:
        """Report one iteration everywhere."""
        lines = metric_lines(metrics)
        coach = coach_training_line(metrics) if self.coach_lines else None
        if coach:
            lines.append(coach)
        if self.coach_lines and math.isfinite(metrics.evaluation_reward_mean):  # Coach's evaluation periods' line
            lines.append(testing_line(metrics.episodes_total, metrics.evaluation_reward_mean,
                                      metrics.timesteps_total, metrics.training_iteration))
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._csv.writerow(asdict(metrics))
        self._csv_handle.flush()
        for writer in self._writers:
            for key, value in asdict(metrics).items():
                if key != "training_iteration" and math.isfinite(float(value)):
                    writer.add_scalar(f"rlrt/{key}", value, metrics.timesteps_total)
        if time.monotonic() - self._last_plot >= self.plot_every_s:
            self.plot()

    def plot(self) -> Path | None:
        """Draw ``learning_curve.png`` from ``progress.csv`` (:mod:`runtime.train.curve`)."""
        self._last_plot = time.monotonic()
        return plot_learning_curve(self.progress_file, self.curve_file, self.title, self.pass_bar)

    def close(self) -> None:
        """Flush everything and draw the final learning curve."""
        self._csv_handle.close()
        for writer in self._writers:
            writer.close()
        self.plot()
