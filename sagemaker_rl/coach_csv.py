"""Coach's per-agent CSV for a Coach job, beside ``progress.csv``: the file and columns the Coach notebooks plot.

Coach's ``BasicRLGraphManager`` (named ``simple_rl_graph``) dumped one row per episode to
``output/intermediate/worker_0.simple_rl_graph.main_level.main_level.agent_0.csv``; the notebooks read it with pandas,
drop the rows without ``Training Reward`` (or ``Evaluation Reward``) and plot it against ``Episode #``. rlrt writes
one training row per iteration (``Training Reward``: the mean return of the last 100 episodes, ``Episode #`` the
episodes played so far) and one evaluation row per episode of the evaluation after training.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

from runtime.names import EVALUATION_JSON

COACH_CSV = "worker_0.simple_rl_graph.main_level.main_level.agent_0.csv"
COLUMNS = (
    "Episode #",
    "Training Iter",
    "In Heatup",
    "Episode Length",
    "Total steps",
    "Training Reward",
    "Evaluation Reward",
    "Wall-Clock Time",
)
"""Coach's own names (rl_coach's signals dump) for what rlrt counts."""


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _cell(value: float) -> str:
    """A number as pandas reads it back: empty for none (NaN), an integer without ``.0``."""
    if not math.isfinite(value):
        return ""
    return str(int(value)) if value == int(value) else repr(value)


def write_coach_csv(intermediate: Path) -> Path | None:
    """Write :data:`COACH_CSV` in ``intermediate`` from its ``progress.csv`` and ``evaluation.json``; None when
    training reported nothing."""
    progress = intermediate / "progress.csv"
    if not progress.is_file():
        return None
    rows: list[dict[str, str]] = []
    episodes, steps, iteration, clock = 0.0, 0.0, 0.0, 0.0
    with progress.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            reward = _number(row.get("episode_reward_mean"))
            episodes = _number(row.get("episodes_total"))
            steps = _number(row.get("timesteps_total"))
            iteration = _number(row.get("training_iteration"))
            clock = _number(row.get("time_total_s"))
            if not math.isfinite(reward):
                continue  # an iteration in which no episode had ended yet
            rows.append(
                {
                    "Episode #": _cell(episodes),
                    "Training Iter": _cell(iteration),
                    "In Heatup": "0",
                    "Episode Length": _cell(_number(row.get("episode_len_mean"))),
                    "Total steps": _cell(steps),
                    "Training Reward": _cell(reward),
                    "Evaluation Reward": "",
                    "Wall-Clock Time": _cell(clock),
                }
            )
    evaluation = intermediate / EVALUATION_JSON
    if evaluation.is_file():
        played = json.loads(evaluation.read_text(encoding="utf-8"))
        for index, (reward, length) in enumerate(zip(played.get("rewards", []), played.get("lengths", [])), 1):
            rows.append(
                {
                    "Episode #": _cell(episodes + index),
                    "Training Iter": _cell(iteration),
                    "In Heatup": "0",
                    "Episode Length": _cell(float(length)),
                    "Total steps": _cell(steps),
                    "Training Reward": "",
                    "Evaluation Reward": _cell(float(reward)),
                    "Wall-Clock Time": _cell(clock),
                }
            )
    if not rows:
        return None
    target = intermediate / COACH_CSV
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return target


def report_coach_csv(intermediate: Path) -> None:
    """:func:`write_coach_csv`, saying where; a failure to write it is said in a line and fails nothing (the job's
    own results are in progress.csv and evaluation.json)."""
    try:
        written = write_coach_csv(intermediate)
    except (OSError, ValueError) as exc:
        print(f"rlrt: Coach's CSV {COACH_CSV} not written: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return
    if written is not None:
        print(f"rlrt: Coach's CSV (the columns the Coach notebooks plot): {written}", flush=True)
