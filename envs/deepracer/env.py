"""The DeepRacer-compatible track environment (gymnasium).

One or more kinematic cars drive on a track; each step applies the commanded steering angle and speed for 1/15 s,
moves the bot cars, computes DeepRacer's reward ``params`` and calls the user's ``reward_function(params)``.
Episodes end as DeepRacer's do: lap complete, off track (all four wheels outside the borders), crashed (touching an
obstacle, a bot or another car), reversed (driving backwards along the track), immobilized, or time up (10,000
steps). Settings arrive as ``env_config`` keys, in lower snake case or the RoboMaker YAML's upper case
(``race_type`` / ``RACE_TYPE``); paths to the user's files (reward function, model_metadata.json, track folder and
a folder for simtrace/episode records) are given by the caller: this module never looks for SageMaker paths.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.deepracer import camera as cam
from envs.deepracer.car import STEP_HZ, Car, CarState, clip_command, rectangles_overlap
from envs.deepracer.metadata import ModelMetadata, load_metadata, parse_metadata
from envs.deepracer.objects import TrackObject, place_bots, place_obstacles, step_bot
from envs.deepracer.reward import (CRASH_REWARD, RewardFunctionError, call_reward, follow_center_line,
                                   load_reward_function)
from envs.deepracer.sensors import LIDAR_MAX_M, LIDAR_RAYS, SECTORS, VECTOR_SIZE, lidar, sector_lidar, state_vector
from envs.deepracer.tracks import DEFAULT_TRACK, TrackError, load_track

RACE_TYPES = ("TIME_TRIAL", "OBJECT_AVOIDANCE", "HEAD_TO_BOT")
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
SIMTRACE_COLUMNS = ("episode", "steps", "X", "Y", "yaw", "steer", "throttle", "action", "reward", "done",
                    "all_wheels_on_track", "progress", "closest_waypoint", "track_len", "tstamp", "episode_status",
                    "pause_duration", "obstacle_crash_counter", "wall_clock")


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
        aliases = {"track": "world_name", "reward_function_path": "reward_function",
                   "model_metadata_path": "model_metadata"}
        values: dict[str, Any] = {}
        for key, value in config.items():
            name = aliases.get(str(key).lower(), str(key).lower())
            if name not in known:
                import difflib

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
            raise DeepRacerConfigError("BOT_CAR_SPEED must be >= 0; MIN_DISTANCE_BETWEEN_OBSTACLES and "
                                       "LANE_CHANGE_DISTANCE must be > 0.")
        if not 0 < self.lower_lane_change_time <= self.upper_lane_change_time:
            raise DeepRacerConfigError(
                f"LOWER_LANE_CHANGE_TIME ({self.lower_lane_change_time}) must be > 0 and <= UPPER_LANE_CHANGE_TIME "
                f"({self.upper_lane_change_time}).")
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


@dataclass
class _Agent:
    """One car's episode bookkeeping."""

    metadata: ModelMetadata
    car: Car
    start_along: float = 0.0
    prev_along: float = 0.0
    progress_m: float = 0.0
    best_progress_m: float = 0.0
    steps: int = 0
    status: str = "in_progress"
    done: bool = False
    reward_total: float = 0.0
    backward_steps: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=64))
    frames: deque = field(default_factory=lambda: deque(maxlen=8))
    counts: dict = field(default_factory=lambda: {"crash_count": 0, "immobilized_count": 0, "off_track_count": 0,
                                                   "reversed_count": 0, "reset_count": 0})
    penalty_s: float = 0.0
    last_params: dict = field(default_factory=dict)
    episode: int = 0
    start_wall: float = 0.0


class DeepRacerEnv(gym.Env):
    """A DeepRacer-compatible racing environment; ``env_config`` keys as in :class:`RaceSettings`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": int(STEP_HZ)}

    def __init__(self, config: Mapping[str, Any] | None = None, render_mode: str | None = None,
                 num_cars: int = 1, **kwargs: Any) -> None:
        merged = {**dict(config or {}), **kwargs}
        self.settings = RaceSettings.from_config(merged)
        s = self.settings
        try:
            self.base_track = load_track(s.world_name, tuple(Path(d) for d in s.track_dirs))
        except TrackError as exc:
            raise DeepRacerConfigError(str(exc)) from exc
        self._tracks = {False: self.base_track, True: self.base_track.reversed()}
        self.model = self._metadata(s.model_metadata)
        self.reward_fn: Callable[[dict], Any] = (
            load_reward_function(s.reward_function) if s.reward_function else follow_center_line
        )
        if s.race_type == "OBJECT_AVOIDANCE":
            usable = self.base_track.length - 3.0
            if s.number_of_obstacles * s.min_distance_between_obstacles > usable:
                raise DeepRacerConfigError(
                    f"NUMBER_OF_OBSTACLES={s.number_of_obstacles} obstacles {s.min_distance_between_obstacles} m apart "
                    f"do not fit on the {self.base_track.length:.1f} m track '{self.base_track.name}'.")
        self.render_mode = render_mode
        self.num_cars = num_cars
        self._cameras: dict[bool, dict[str, cam.Camera]] = {}
        self.action_space = self._action_space(self.model)
        self.observation_space = self._observation_space(self.model)
        self._rng = np.random.default_rng(s.seed)
        self._episode_index = 0
        self._reversed = s.reverse_dir
        self.track = self._tracks[self._reversed]
        self.objects: list[TrackObject] = []
        self.agents: list[_Agent] = []
        self.time_s = 0.0
        self._trace_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._trace_rows: dict[int, list[list[Any]]] = {}
        self._opponent: Callable[[Any], Any] | None = None

    # ----- spaces -----------------------------------------------------------------------------------------------
    @staticmethod
    def _metadata(value: Any) -> ModelMetadata:
        if value is None:
            return ModelMetadata()
        if isinstance(value, ModelMetadata):
            return value
        if isinstance(value, Mapping):
            return parse_metadata(value)
        return load_metadata(value)

    @staticmethod
    def _action_space(model: ModelMetadata) -> spaces.Space:
        if model.continuous:
            return spaces.Box(low=np.array([model.steering_range[0], model.speed_range[0]], dtype=np.float32),
                              high=np.array([model.steering_range[1], model.speed_range[1]], dtype=np.float32))
        return spaces.Discrete(len(model.actions))

    def _sensor_spaces(self, model: ModelMetadata) -> dict[str, spaces.Space]:
        k = self.settings.stack_size
        out: dict[str, spaces.Space] = {}
        for sensor in model.sensors:
            if sensor == "FRONT_FACING_CAMERA":
                out[sensor] = spaces.Box(0, 255, (cam.HEIGHT, cam.WIDTH, k), np.uint8)
            elif sensor == "STEREO_CAMERAS":
                out[sensor] = spaces.Box(0, 255, (cam.HEIGHT, cam.WIDTH, 2 * k), np.uint8)
            elif sensor == "LIDAR":
                out[sensor] = spaces.Box(0.0, LIDAR_MAX_M, (LIDAR_RAYS,), np.float32)
            elif sensor == "SECTOR_LIDAR":
                out[sensor] = spaces.Box(0.0, 1.0, (SECTORS,), np.float32)
            else:
                out[sensor] = spaces.Box(-10.0, 10.0, (VECTOR_SIZE,), np.float32)
        return out

    def _observation_space(self, model: ModelMetadata) -> spaces.Space:
        per = self._sensor_spaces(model)
        return next(iter(per.values())) if len(per) == 1 else spaces.Dict(per)

    # ----- episode ----------------------------------------------------------------------------------------------
    def set_opponent(self, policy: Callable[[Any], Any] | None, metadata: ModelMetadata | None = None) -> None:
        """Head-to-head: a second car driven by ``policy(observation) -> action`` (``metadata`` its action space)."""
        self._opponent = policy
        self.num_cars = 2 if policy is not None else 1
        self._opponent_model = metadata or self.model

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        s = self.settings
        options = dict(options or {})
        if s.alternate_driving_direction and self._episode_index > 0:
            self._reversed = not self._reversed
        self.track = self._tracks[self._reversed]
        track = self.track
        if "start_along" in options:
            start = float(options["start_along"])
        elif s.change_start_position and s.phase == "training":
            start = (s.start_position_offset + self._episode_index * s.round_robin_advance_dist) % 1.0 * track.length
        else:
            start = s.start_position_offset % 1.0 * track.length
        self._episode_index += 1
        self.time_s = 0.0
        self.objects = []
        if s.race_type == "OBJECT_AVOIDANCE":
            self.objects = place_obstacles(track, start, s.number_of_obstacles, s.min_distance_between_obstacles,
                                           s.randomize_obstacle_locations, self._rng)
        elif s.race_type == "HEAD_TO_BOT":
            self.objects = place_bots(track, start, s.number_of_bot_cars, s.bot_car_speed, self._rng,
                                      s.is_lane_change, s.lower_lane_change_time, s.upper_lane_change_time)
        models = [self.model] + ([getattr(self, "_opponent_model", self.model)] if self.num_cars > 1 else [])
        self.agents = []
        for i, model in enumerate(models):
            # a second car starts beside the first, in the other lane
            lateral = 0.0 if len(models) == 1 else (0.25 if i == 0 else -0.25) * float(track.half_widths_at(start)[0] * 2)
            point, heading = track.point_at(start, lateral)
            # the car's front point sits on the start line
            x, y = point[0] - 0.0825 * math.cos(heading), point[1] - 0.0825 * math.sin(heading)
            agent = _Agent(model, Car(CarState(float(x), float(y), float(heading))), episode=self._episode_index,
                           start_wall=time.time(), recent=deque(maxlen=s.immobilized_steps + 1))
            along = float(track.project(agent.car.front[None]).along[0])
            agent.start_along = agent.prev_along = along
            agent.recent.append((agent.car.state.x, agent.car.state.y))
            self.agents.append(agent)
        for i, agent in enumerate(self.agents):
            agent.last_params = self._params(agent, i, 0.0, 0.0)
        obs = self._observe(0)
        return obs, {"episode_status": "in_progress", "params": self._public_params(self.agents[0].last_params)}

    def _decode(self, model: ModelMetadata, action: Any) -> tuple[float, float, Any]:
        if model.continuous:
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            steer = float(np.clip(a[0], *model.steering_range))
            speed = float(np.clip(a[1], *model.speed_range))
            return steer, speed, -1
        index = int(np.asarray(action).reshape(-1)[0])
        if not 0 <= index < len(model.actions):
            raise ValueError(f"action {index} is outside the {len(model.actions)}-action space")
        act = model.actions[index]
        steer, speed = clip_command(act["steering_angle"], act["speed"])
        return steer, speed, index

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        actions = [action]
        if self.num_cars > 1:
            other = self.agents[1]
            actions.append(None if other.done or self._opponent is None else self._opponent(self._observe(1)))
        results = self.step_cars(actions)
        reward, terminated, truncated, info = results[0]
        return self._observe(0), reward, terminated, truncated, info

    def step_cars(self, actions: Sequence[Any]) -> list[tuple[float, bool, bool, dict]]:
        """Advance every car that is still racing by one step (``None`` for a car that is done)."""
        s = self.settings
        dt = 1.0 / STEP_HZ
        self.time_s += dt
        commands = []
        for agent, action in zip(self.agents, actions):
            if agent.done or action is None:
                commands.append(None)
                continue
            steer, speed, index = self._decode(agent.metadata, action)
            agent.car.step(steer, speed, dt)
            commands.append((steer, speed, index))
        if s.race_type == "HEAD_TO_BOT":
            for bot in self.objects:
                step_bot(bot, self.track, dt, self.time_s, self._rng, s.is_lane_change, s.lower_lane_change_time,
                         s.upper_lane_change_time, s.lane_change_distance)
        results = []
        for i, (agent, command) in enumerate(zip(self.agents, commands)):
            if command is None:
                results.append((0.0, True, False, {"episode_status": agent.status}))
                continue
            results.append(self._judge(i, agent, command))
        return results

    def _other_cars(self, index: int) -> list[TrackObject]:
        out = []
        for j, other in enumerate(self.agents):
            if j == index or other.done:
                continue
            st = other.car.state
            proj = self.track.project(np.array([[st.x, st.y]]))
            out.append(TrackObject("car", float(proj.along[0]), float(proj.lateral[0]), st.x, st.y, st.yaw, st.speed,
                                   length=0.36, width=0.20, height=0.18))
        return out

    def _judge(self, index: int, agent: _Agent, command: tuple[float, float, Any]) -> tuple[float, bool, bool, dict]:
        s = self.settings
        steer, speed, action_index = command
        agent.steps += 1
        track = self.track
        obstacles = self.objects + self._other_cars(index)
        crashed = any(rectangles_overlap(agent.car.footprint(), o.corners()) for o in obstacles)
        # progress along the centre line, unwrapped across the start line
        along = float(track.project(agent.car.front[None]).along[0])
        delta = (along - agent.prev_along + track.length / 2) % track.length - track.length / 2
        agent.prev_along = along
        agent.progress_m += delta
        agent.best_progress_m = max(agent.best_progress_m, agent.progress_m)
        agent.backward_steps = agent.backward_steps + 1 if delta < -1e-4 else 0
        agent.recent.append((agent.car.state.x, agent.car.state.y))
        params = self._params(agent, index, steer, speed, crashed=crashed)
        status = "in_progress"
        if len(agent.recent) > s.immobilized_steps:
            past = agent.recent[-1 - s.immobilized_steps]
            moved = math.hypot(agent.recent[-1][0] - past[0], agent.recent[-1][1] - past[1])
        else:
            moved = math.inf
        if crashed:
            status = "crashed"
        elif params["is_offtrack"]:
            status = "off_track"
        elif agent.progress_m >= track.length:
            status = "lap_complete"
        elif agent.backward_steps >= s.reversed_steps:
            status = "reversed"
        elif moved < 0.05:
            status = "immobilized"
        if status == "crashed":
            reward = CRASH_REWARD
        else:
            try:
                reward = call_reward(self.reward_fn, params)
            except RewardFunctionError as exc:
                self._record_error(exc)
                raise
        terminated = status != "in_progress"
        truncated = False
        if status in ("crashed", "off_track", "reversed", "immobilized"):
            key = {"crashed": "crash_count", "off_track": "off_track_count", "reversed": "reversed_count",
                   "immobilized": "immobilized_count"}[status]
            agent.counts[key] += 1
            if agent.counts["reset_count"] < s.number_of_resets:
                # evaluation with resets: put the car back on the centre line and go on, with a time penalty
                agent.counts["reset_count"] += 1
                agent.penalty_s += s.collision_penalty if status == "crashed" else s.off_track_penalty
                self._put_back(agent)
                terminated = False
                status = "in_progress"
        if not terminated and agent.steps >= s.max_steps:
            status, truncated = "time_up", True
        agent.status = status
        agent.reward_total += reward
        agent.done = terminated or truncated
        agent.last_params = params
        self._trace(agent, index, params, steer, speed, action_index, reward, agent.done)
        if agent.done:
            self._episode_record(agent, index)
        info = {"episode_status": status, "params": self._public_params(params), **agent.counts,
                "elapsed_time_ms": self._elapsed_ms(agent)}
        return reward, terminated, truncated, info

    def _put_back(self, agent: _Agent) -> None:
        along = agent.prev_along
        point, heading = self.track.point_at(along + 0.1)
        agent.car = Car(CarState(float(point[0]), float(point[1]), float(heading)))
        agent.prev_along = float(self.track.project(agent.car.front[None]).along[0])
        agent.backward_steps = 0
        agent.recent.clear()

    def _elapsed_ms(self, agent: _Agent) -> int:
        return int(round((agent.steps / STEP_HZ + agent.penalty_s) * 1000))

    # ----- params -----------------------------------------------------------------------------------------------
    def _params(self, agent: _Agent, index: int, steer: float, speed: float, crashed: bool = False) -> dict[str, Any]:
        track = self.track
        front = agent.car.front
        pts = np.vstack([front[None], agent.car.wheels()])
        proj = track.project(pts)
        on = proj.on_track
        seg = int(proj.segment[0])
        nxt = seg + 1 if seg + 1 < len(track.waypoints) else 0
        yaw_deg = math.degrees(agent.car.state.yaw)
        objects = self.objects + self._other_cars(index)
        params: dict[str, Any] = {
            "all_wheels_on_track": bool(np.all(on[1:])),
            "x": float(front[0]),
            "y": float(front[1]),
            "heading": float((yaw_deg + 180.0) % 360.0 - 180.0),
            "distance_from_center": float(abs(proj.lateral[0])),
            "is_left_of_center": bool(proj.lateral[0] > 0),
            "is_reversed": bool(self._reversed),
            "is_offtrack": bool(not np.any(on[1:])),
            "is_crashed": bool(crashed),
            "progress": float(np.clip(100.0 * agent.progress_m / track.length, 0.0, 100.0)),
            "steps": int(agent.steps),
            "speed": float(speed),
            "steering_angle": float(steer),
            "track_width": float(proj.half_width_left[0] + proj.half_width_right[0]),
            "track_length": float(track.length),
            "waypoints": track.waypoints,
            "closest_waypoints": [seg, nxt],
            "projection_distance": float(proj.along[0]),
            "closest_objects": [0, 0],
            "objects_location": [],
            "objects_left_of_center": [],
            "objects_speed": [],
            "objects_heading": [],
            "objects_distance": [],
            "objects_distance_from_center": [],
            "object_in_camera": False,
        }
        if objects:
            car_along = float(proj.along[0])
            ahead = [((o.along - car_along) % track.length, i) for i, o in enumerate(objects)]
            behind = [((car_along - o.along) % track.length, i) for i, o in enumerate(objects)]
            params.update({
                "closest_objects": [min(behind)[1], min(ahead)[1]],
                "objects_location": [[float(o.x), float(o.y)] for o in objects],
                "objects_left_of_center": [bool(o.lateral > 0) for o in objects],
                "objects_speed": [float(o.speed) for o in objects],
                "objects_heading": [float(math.degrees(o.yaw)) for o in objects],
                "objects_distance": [float(o.along) for o in objects],
                "objects_distance_from_center": [float(abs(o.lateral)) for o in objects],
                "object_in_camera": self._camera("FRONT_FACING_CAMERA")[0].sees(
                    agent.car.state.x, agent.car.state.y, agent.car.state.yaw, objects),
            })
        return params

    @staticmethod
    def _public_params(params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k != "waypoints"}

    # ----- sensors ----------------------------------------------------------------------------------------------
    def _camera(self, sensor: str) -> list[cam.Camera]:
        cams = self._cameras.setdefault(self._reversed, {})
        if "texture" not in cams:
            cams["texture"] = cam.track_texture(self.track)  # type: ignore[assignment]
        texture = cams["texture"]  # type: ignore[assignment]
        if sensor == "STEREO_CAMERAS":
            if "left" not in cams:
                cams["left"] = cam.Camera(self.track, left_m=0.03, texture=texture)
                cams["right"] = cam.Camera(self.track, left_m=-0.03, texture=texture)
            return [cams["left"], cams["right"]]
        if "front" not in cams:
            cams["front"] = cam.Camera(self.track, texture=texture)
        return [cams["front"]]

    def _observe(self, index: int) -> Any:
        agent = self.agents[index]
        st = agent.car.state
        objects = self.objects + self._other_cars(index)
        out: dict[str, Any] = {}
        k = self.settings.stack_size
        for sensor in agent.metadata.sensors:
            if sensor in ("FRONT_FACING_CAMERA", "STEREO_CAMERAS"):
                frame = np.stack([c.render(st.x, st.y, st.yaw, objects) for c in self._camera(sensor)], axis=-1)
                if k == 1:
                    out[sensor] = frame
                else:
                    frames = agent.frames
                    if not frames:
                        frames.extend([frame] * k)
                    frames.append(frame)
                    out[sensor] = np.concatenate(list(frames)[-k:], axis=-1)
            elif sensor in ("LIDAR", "SECTOR_LIDAR"):
                distances = lidar(st.x, st.y, st.yaw, objects)
                out[sensor] = distances if sensor == "LIDAR" else sector_lidar(distances)
            else:
                proj = self.track.project(np.array([[st.x, st.y]]))
                out[sensor] = state_vector(self.track, st.x, st.y, st.yaw, st.speed, st.steering_deg,
                                           float(proj.along[0]), float(proj.lateral[0]),
                                           float(proj.half_width_left[0]), float(proj.half_width_right[0]), objects)
        return next(iter(out.values())) if len(out) == 1 else out

    def observe(self, index: int = 0) -> Any:
        """The current observation of car ``index`` (head-to-head drivers call this for the second car)."""
        return self._observe(index)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or not self.agents:
            return None
        st = self.agents[0].car.state
        frame = self._camera("FRONT_FACING_CAMERA")[0].render(st.x, st.y, st.yaw, self.objects + self._other_cars(0))
        return np.repeat(frame[..., None], 3, axis=2)

    # ----- simtrace and episode records -------------------------------------------------------------------------
    def _trace(self, agent: _Agent, index: int, params: Mapping[str, Any], steer: float, speed: float, action: Any,
               reward: float, done: bool) -> None:
        if not self.settings.trace_dir:
            return
        self._trace_rows.setdefault(index, []).append([
            agent.episode, agent.steps, round(params["x"], 4), round(params["y"], 4), round(params["heading"], 4),
            round(steer, 2), round(speed, 2), action, round(reward, 4), done, params["all_wheels_on_track"],
            round(params["progress"], 4), params["closest_waypoints"][1], round(params["track_length"], 2),
            round(self.time_s, 3), agent.status, 0.0, agent.counts["crash_count"], round(time.time(), 3),
        ])
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
        completion = 100 if agent.status == "lap_complete" else int(
            max(0.0, min(99.0, 100.0 * agent.best_progress_m / self.track.length)))
        return {
            "source": self._trace_id, "car": index, "local_episode": agent.episode, "phase": self.settings.phase,
            "reward_score": int(round(agent.reward_total)), "reward_total": agent.reward_total,
            "steps": agent.steps, "metric_time": int(time.time() * 1000), "start_time": int(agent.start_wall * 1000),
            "elapsed_time_in_milliseconds": self._elapsed_ms(agent), "completion_percentage": completion,
            "episode_status": STATUS_LABELS[agent.status], **agent.counts,
        }

    def _episode_record(self, agent: _Agent, index: int) -> None:
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

    def close(self) -> None:
        self.flush_trace()
        super().close()


def make(config: Mapping[str, Any] | None = None, **kwargs: Any) -> DeepRacerEnv:
    """Build a :class:`DeepRacerEnv` (what the environment registry calls)."""
    return DeepRacerEnv(config, **kwargs)
