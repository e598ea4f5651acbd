"""The DeepRacer environment's settings (``env_config`` keys, any case), with DeepRacer's defaults."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, fields
from typing import Any, Mapping

from envs.deepracer.tracks import DEFAULT_TRACK

RACE_TYPES = ("TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT")


class DeepRacerConfigError(ValueError):
    """An env_config setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class RaceSettings:
    """Every env_config setting, with DeepRacer's defaults."""

    world_name: str = DEFAULT_TRACK
    track_dirs: tuple[str, ...] = ()
    race_type: str = "TIME_TRIAL"
    number_of_obstacles: int = 3
    min_distance_between_obstacles: float = 2.0
    randomize_obstacle_locations: bool = False
    number_of_bot_cars: int = 3
    bot_car_speed: float = 0.2
    is_lane_change: bool = False
    lower_lane_change_time: float = 3.0
    upper_lane_change_time: float = 5.0
    lane_change_distance: float = 1.0
    number_of_resets: int = 0
    off_track_penalty: float = 2.0
    collision_penalty: float = 5.0
    reverse_dir: bool = False
    alternate_driving_direction: bool = False
    change_start_position: bool = True
    round_robin_advance_dist: float = 0.05
    start_position_offset: float = 0.0
    max_steps: int = 10000
    stack_size: int = 1
    phase: str = "training"
    reward_function: str | None = None
    model_metadata: Any = None
    trace_dir: str | None = None
    immobilized_steps: int = 30
    reversed_steps: int = 15
    seed: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "RaceSettings":
        """Parse env_config (keys in any case); unknown keys and bad values raise :class:`DeepRacerConfigError`."""
        known = {f.name: f for f in fields(cls)}
        aliases = {
            "track": "world_name",
            "reward_function_path": "reward_function",
            "model_metadata_path": "model_metadata",
        }
        values: dict[str, Any] = {}
        for key, value in config.items():
            name = aliases.get(str(key).lower(), str(key).lower())
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise DeepRacerConfigError(f"Unknown DeepRacer environment setting '{key}'.{hint}")
            values[name] = _coerce(name, value, cls.__dataclass_fields__[name].default)
        settings = cls(**values)
        settings._check()
        return settings

    def _check(self) -> None:
        if self.race_type not in RACE_TYPES:
            raise DeepRacerConfigError(f"RACE_TYPE must be one of {', '.join(RACE_TYPES)}, got {self.race_type!r}.")
        for name in ("number_of_obstacles", "number_of_bot_cars", "number_of_resets"):
            if getattr(self, name) < 0:
                raise DeepRacerConfigError(f"{name.upper()} must be >= 0, got {getattr(self, name)}.")
        for name in ("max_steps", "stack_size", "immobilized_steps", "reversed_steps"):
            if getattr(self, name) < 1:
                raise DeepRacerConfigError(f"{name.upper()} must be >= 1, got {getattr(self, name)}.")
        if self.bot_car_speed < 0 or self.min_distance_between_obstacles <= 0 or self.lane_change_distance <= 0:
            raise DeepRacerConfigError(
                "BOT_CAR_SPEED must be >= 0; MIN_DISTANCE_BETWEEN_OBSTACLES and LANE_CHANGE_DISTANCE must be > 0."
            )
        if not 0 < self.lower_lane_change_time <= self.upper_lane_change_time:
            raise DeepRacerConfigError(
                f"LOWER_LANE_CHANGE_TIME ({self.lower_lane_change_time}) must be > 0 and <= UPPER_LANE_CHANGE_TIME "
                f"({self.upper_lane_change_time})."
            )
        if self.phase not in ("training", "evaluation"):
            raise DeepRacerConfigError(f"phase must be 'training' or 'evaluation', got {self.phase!r}.")


def _coerce(name: str, value: Any, default: Any) -> Any:
    """YAML/hyperparameter values arrive as strings ("6", "true"); convert to the default's type."""
    if name in ("model_metadata",):
        return value
    if name == "track_dirs":
        return tuple(str(v) for v in ([value] if isinstance(value, (str, os.PathLike)) else value or ()))
    if value is None:
        return None
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.strip().lower() in ("true", "1", "yes")
            return bool(value)
        if isinstance(default, int) and not isinstance(default, bool):
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if isinstance(default, float):
            return float(value)
        if name == "race_type":
            return str(value).strip().upper()
        return str(value) if not isinstance(value, os.PathLike) else os.fspath(value)
    except (TypeError, ValueError):
        kind = type(default).__name__ if default is not None else "string"
        raise DeepRacerConfigError(f"{name.upper()} must be a {kind}, got {value!r}.") from None
