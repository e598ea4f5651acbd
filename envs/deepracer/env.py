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

import math
import os
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import numpy as np

from envs.deepracer import camera as cam
from envs.deepracer.agent import Agent
from envs.deepracer.car import STEP_HZ, Car, CarState, clip_command, rectangles_overlap
from envs.deepracer.metadata import ModelMetadata
from envs.deepracer.objects import TrackObject, place_bots, place_obstacles, step_bot
from envs.deepracer.observations import SensorObservations
from envs.deepracer.params import RewardParams
from envs.deepracer.records import SIMTRACE_COLUMNS, STATUS_LABELS, SimtraceRecords
from envs.deepracer.reward import (
    CRASH_REWARD,
    RewardFunctionError,
    call_reward,
    follow_center_line,
    load_reward_function,
)
from envs.deepracer.settings import RACE_TYPES, DeepRacerConfigError, RaceSettings
from envs.deepracer.tracks import TrackError, load_track

__all__ = [
    "DeepRacerConfigError",
    "DeepRacerEnv",
    "RACE_TYPES",
    "RaceSettings",
    "SIMTRACE_COLUMNS",
    "STATUS_LABELS",
    "make",
]


# The ignore: gymnasium annotates Env.render's return with a type variable bound to nothing (RenderFrame), which no
# concrete return type (here SensorObservations.render's array) matches.
class DeepRacerEnv(SensorObservations, SimtraceRecords, RewardParams, gym.Env):  # type: ignore[misc]
    """A DeepRacer-compatible racing environment; ``env_config`` keys as in :class:`RaceSettings`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": int(STEP_HZ)}

    def __init__(
        self, config: Mapping[str, Any] | None = None, render_mode: str | None = None, num_cars: int = 1, **kwargs: Any
    ) -> None:
        merged = {**dict(config or {}), **kwargs}
        # gymnasium's own keyword, passed inside env_config by the registry (videos) as by gymnasium.make.
        render_mode = merged.pop("render_mode", None) or render_mode
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise DeepRacerConfigError(f"render_mode must be 'rgb_array' or absent, got {render_mode!r}.")
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
                    f"do not fit on the {self.base_track.length:.1f} m track '{self.base_track.name}'."
                )
        self.render_mode = render_mode
        self.num_cars = num_cars
        self._cameras: dict[bool, dict[str, cam.Camera]] = {}
        self._textures: dict[bool, cam.Texture] = {}  # the track painted once per direction, shared by the cameras
        self.action_space = self._action_space(self.model)
        self.observation_space = self._observation_space(self.model)
        self._rng = np.random.default_rng(s.seed)
        self._episode_index = 0
        self._reversed = s.reverse_dir
        self.track = self._tracks[self._reversed]
        self.objects: list[TrackObject] = []
        self.agents: list[Agent] = []
        self.time_s = 0.0
        self._trace_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._trace_rows: dict[int, list[list[Any]]] = {}
        self._opponent: Callable[[Any], Any] | None = None

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
            self.objects = place_obstacles(
                track,
                start,
                s.number_of_obstacles,
                s.min_distance_between_obstacles,
                s.randomize_obstacle_locations,
                self._rng,
            )
        elif s.race_type == "HEAD_TO_BOT":
            self.objects = place_bots(
                track,
                start,
                s.number_of_bot_cars,
                s.bot_car_speed,
                self._rng,
                s.is_lane_change,
                s.lower_lane_change_time,
                s.upper_lane_change_time,
            )
        models = [self.model] + ([getattr(self, "_opponent_model", self.model)] if self.num_cars > 1 else [])
        self.agents = []
        for i, model in enumerate(models):
            # a second car starts beside the first, in the other lane
            lateral = (
                0.0 if len(models) == 1 else ((0.25 if i == 0 else -0.25) * float(track.half_widths_at(start)[0] * 2))
            )
            point, heading = track.point_at(start, lateral)
            # the car's front point sits on the start line
            x, y = point[0] - 0.0825 * math.cos(heading), point[1] - 0.0825 * math.sin(heading)
            agent = Agent(
                model,
                Car(CarState(float(x), float(y), float(heading))),
                episode=self._episode_index,
                start_wall=time.time(),
                recent=deque(maxlen=s.immobilized_steps + 1),
            )
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
        commands: list[tuple[float, float, Any] | None] = []
        for agent, action in zip(self.agents, actions):
            if agent.done or action is None:
                commands.append(None)
                continue
            steer, speed, index = self._decode(agent.metadata, action)
            agent.car.step(steer, speed, dt)
            commands.append((steer, speed, index))
        if s.race_type == "HEAD_TO_BOT":
            for bot in self.objects:
                step_bot(
                    bot,
                    self.track,
                    dt,
                    self.time_s,
                    self._rng,
                    s.is_lane_change,
                    s.lower_lane_change_time,
                    s.upper_lane_change_time,
                    s.lane_change_distance,
                )
        results = []
        for i, (agent, command) in enumerate(zip(self.agents, commands)):
            if command is None:
                results.append((0.0, True, False, {"episode_status": agent.status}))
                continue
            results.append(self._judge(i, agent, command))
        return results

    def _judge(self, index: int, agent: Agent, command: tuple[float, float, Any]) -> tuple[float, bool, bool, dict]:
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
            key = {
                "crashed": "crash_count",
                "off_track": "off_track_count",
                "reversed": "reversed_count",
                "immobilized": "immobilized_count",
            }[status]
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
        info = {
            "episode_status": status,
            "params": self._public_params(params),
            **agent.counts,
            "elapsed_time_ms": self._elapsed_ms(agent),
        }
        return reward, terminated, truncated, info

    def _put_back(self, agent: Agent) -> None:
        along = agent.prev_along
        point, heading = self.track.point_at(along + 0.1)
        agent.car = Car(CarState(float(point[0]), float(point[1]), float(heading)))
        agent.prev_along = float(self.track.project(agent.car.front[None]).along[0])
        agent.backward_steps = 0
        agent.recent.clear()

    def _elapsed_ms(self, agent: Agent) -> int:
        return int(round((agent.steps / STEP_HZ + agent.penalty_s) * 1000))

    def close(self) -> None:
        self.flush_trace()
        super().close()


def make(config: Mapping[str, Any] | None = None, **kwargs: Any) -> DeepRacerEnv:
    """Build a :class:`DeepRacerEnv` (what the environment registry calls)."""
    return DeepRacerEnv(config, **kwargs)
