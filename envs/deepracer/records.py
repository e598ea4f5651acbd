"""Simtrace rows and episode records (the files DeepRacer's metrics are read from), as a mixin of the env."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from envs.deepracer.agent import Agent

if TYPE_CHECKING:
    from envs.deepracer.settings import RaceSettings
    from envs.deepracer.tracks import Track

# raw simtrace value -> the label training_metrics.json / evaluation_metrics.json use
STATUS_LABELS = {
    "in_progress": "In progress",
    "lap_complete": "Lap complete",
    "off_track": "Off track",
    "crashed": "Crashed",
    "reversed": "Reversed",
    "immobilized": "Immobilized",
    "time_up": "Time Up",
}
SIMTRACE_COLUMNS = (
    "episode",
    "steps",
    "X",
    "Y",
    "yaw",
    "steer",
    "throttle",
    "action",
    "reward",
    "done",
    "all_wheels_on_track",
    "progress",
    "closest_waypoint",
    "track_len",
    "tstamp",
    "episode_status",
    "pause_duration",
    "obstacle_crash_counter",
    "wall_clock",
)


class SimtraceRecords:
    """The simtrace and episode-record half of :class:`envs.deepracer.env.DeepRacerEnv`."""

    # What the env provides (set in its __init__ and reset, or its own methods): this half is never used alone.
    settings: RaceSettings
    track: Track
    agents: list[Agent]
    time_s: float
    _trace_id: str
    _trace_rows: dict[int, list[list[Any]]]

    if TYPE_CHECKING:

        def _elapsed_ms(self, agent: Agent) -> int: ...

    def _trace(
        self,
        agent: Agent,
        index: int,
        params: Mapping[str, Any],
        steer: float,
        speed: float,
        action: Any,
        reward: float,
        done: bool,
    ) -> None:
        if not self.settings.trace_dir:
            return
        self._trace_rows.setdefault(index, []).append(
            [
                agent.episode,
                agent.steps,
                round(params["x"], 4),
                round(params["y"], 4),
                round(params["heading"], 4),
                round(steer, 2),
                round(speed, 2),
                action,
                round(reward, 4),
                done,
                params["all_wheels_on_track"],
                round(params["progress"], 4),
                params["closest_waypoints"][1],
                round(params["track_length"], 2),
                round(self.time_s, 3),
                agent.status,
                0.0,
                agent.counts["crash_count"],
                round(time.time(), 3),
            ]
        )
        if done or len(self._trace_rows[index]) >= 500:
            self.flush_trace()

    def trace_file(self, index: int = 0) -> Path | None:
        """Where car ``index``'s simtrace rows go (no header; one file per environment instance)."""
        if not self.settings.trace_dir:
            return None
        suffix = "" if index == 0 else f".car{index}"
        return Path(self.settings.trace_dir) / f"simtrace-{self.settings.phase}-{self._trace_id}{suffix}.csv"

    def flush_trace(self) -> None:
        """Append buffered simtrace rows to this env's file(s) in ``trace_dir``."""
        for index, rows in self._trace_rows.items():
            path = self.trace_file(index)
            if path is None or not rows:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.StringIO()
            csv.writer(buffer).writerows(rows)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(buffer.getvalue())
            rows.clear()

    def episode_summary(self, index: int = 0) -> dict[str, Any]:
        """Car ``index``'s episode so far as DeepRacer's metrics report it (status label, completion, counters)."""
        agent = self.agents[index]
        completion = (
            100
            if agent.status == "lap_complete"
            else int(max(0.0, min(99.0, 100.0 * agent.best_progress_m / self.track.length)))
        )
        return {
            "source": self._trace_id,
            "car": index,
            "local_episode": agent.episode,
            "phase": self.settings.phase,
            "reward_score": int(round(agent.reward_total)),
            "reward_total": agent.reward_total,
            "steps": agent.steps,
            "metric_time": int(time.time() * 1000),
            "start_time": int(agent.start_wall * 1000),
            "elapsed_time_in_milliseconds": self._elapsed_ms(agent),
            "completion_percentage": completion,
            "episode_status": STATUS_LABELS[agent.status],
            **agent.counts,
        }

    def _episode_record(self, agent: Agent, index: int) -> None:
        if not self.settings.trace_dir:
            return
        record = self.episode_summary(index)
        folder = Path(self.settings.trace_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"episodes-{self.settings.phase}-{self._trace_id}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _record_error(self, exc: Exception) -> None:
        """Leave the user error where the trainer finds it (a worker process may die before its log is read)."""
        if self.settings.trace_dir:
            folder = Path(self.settings.trace_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"error-{self._trace_id}.txt").write_text(str(exc), encoding="utf-8")
