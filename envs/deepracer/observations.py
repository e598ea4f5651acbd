"""The DeepRacer environment's spaces and observations (cameras, LiDAR, state vector), as a mixin of the env."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from gymnasium import spaces

from envs.deepracer import camera as cam
from envs.deepracer.agent import Agent
from envs.deepracer.metadata import ModelMetadata, load_metadata, parse_metadata
from envs.deepracer.sensors import LIDAR_MAX_M, LIDAR_RAYS, SECTORS, VECTOR_SIZE, lidar, sector_lidar, state_vector

if TYPE_CHECKING:
    from envs.deepracer.objects import TrackObject
    from envs.deepracer.settings import RaceSettings
    from envs.deepracer.tracks import Track


class SensorObservations:
    """The spaces and sensors half of :class:`envs.deepracer.env.DeepRacerEnv`."""

    # What the env provides (set in its __init__ and reset, or its own methods): this half is never used alone.
    settings: RaceSettings
    render_mode: str | None
    track: Track
    agents: list[Agent]
    objects: list[TrackObject]
    _reversed: bool
    _cameras: dict[bool, dict[str, cam.Camera]]
    _textures: dict[bool, cam.Texture]

    if TYPE_CHECKING:

        def _other_cars(self, index: int) -> list[TrackObject]: ...

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
            return spaces.Box(
                low=np.array([model.steering_range[0], model.speed_range[0]], dtype=np.float32),
                high=np.array([model.steering_range[1], model.speed_range[1]], dtype=np.float32),
            )
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

    # ----- sensors ----------------------------------------------------------------------------------------------
    def _camera(self, sensor: str) -> list[cam.Camera]:
        cams = self._cameras.setdefault(self._reversed, {})
        if self._reversed not in self._textures:
            self._textures[self._reversed] = cam.track_texture(self.track)
        texture = self._textures[self._reversed]
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
                out[sensor] = state_vector(
                    self.track,
                    st.x,
                    st.y,
                    st.yaw,
                    st.speed,
                    st.steering_deg,
                    float(proj.along[0]),
                    float(proj.lateral[0]),
                    float(proj.half_width_left[0]),
                    float(proj.half_width_right[0]),
                    objects,
                )
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
