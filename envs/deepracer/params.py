"""DeepRacer's reward ``params`` (where the car is on the track, and the objects around it), as a mixin of the env."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from envs.deepracer import camera as cam
from envs.deepracer.agent import Agent
from envs.deepracer.objects import TrackObject

if TYPE_CHECKING:
    from envs.deepracer.tracks import Track


class RewardParams:
    """The reward-params half of :class:`envs.deepracer.env.DeepRacerEnv`: the ``params`` dict DeepRacer hands to the
    user's ``reward_function``."""

    # What the env provides (set in its __init__ and reset, or its own methods): this half is never used alone.
    track: Track
    agents: list[Agent]
    objects: list[TrackObject]
    _reversed: bool

    if TYPE_CHECKING:

        def _camera(self, sensor: str) -> list[cam.Camera]: ...

    def _other_cars(self, index: int) -> list[TrackObject]:
        out = []
        for j, other in enumerate(self.agents):
            if j == index or other.done:
                continue
            st = other.car.state
            proj = self.track.project(np.array([[st.x, st.y]]))
            out.append(
                TrackObject(
                    "car",
                    float(proj.along[0]),
                    float(proj.lateral[0]),
                    st.x,
                    st.y,
                    st.yaw,
                    st.speed,
                    length=0.36,
                    width=0.20,
                    height=0.18,
                )
            )
        return out

    def _params(self, agent: Agent, index: int, steer: float, speed: float, crashed: bool = False) -> dict[str, Any]:
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
            params.update(
                {
                    "closest_objects": [min(behind)[1], min(ahead)[1]],
                    "objects_location": [[float(o.x), float(o.y)] for o in objects],
                    "objects_left_of_center": [bool(o.lateral > 0) for o in objects],
                    "objects_speed": [float(o.speed) for o in objects],
                    "objects_heading": [float(math.degrees(o.yaw)) for o in objects],
                    "objects_distance": [float(o.along) for o in objects],
                    "objects_distance_from_center": [float(abs(o.lateral)) for o in objects],
                    "object_in_camera": self._camera("FRONT_FACING_CAMERA")[0].sees(
                        agent.car.state.x, agent.car.state.y, agent.car.state.yaw, objects
                    ),
                }
            )
        return params

    @staticmethod
    def _public_params(params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k != "waypoints"}
