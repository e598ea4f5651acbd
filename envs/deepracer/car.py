"""A kinematic car at DeepRacer scale (1/18): bicycle model driven by the commanded steering angle and speed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WHEELBASE_M = 0.165
TRACK_M = 0.16
"""Distance between the left and right wheels."""
LENGTH_M = 0.36
WIDTH_M = 0.20
MAX_STEERING_DEG = 30.0
MIN_SPEED = 0.1
MAX_SPEED = 4.0
STEP_HZ = 15.0
"""DeepRacer's control rate (the camera's frame rate)."""


def clip_command(steering_deg: float, speed: float) -> tuple[float, float]:
    """Clip a command to DeepRacer's limits: steering +-30 degrees, speed 0.1-4 m/s."""
    return (
        float(np.clip(steering_deg, -MAX_STEERING_DEG, MAX_STEERING_DEG)),
        float(np.clip(speed, MIN_SPEED, MAX_SPEED)),
    )


@dataclass
class CarState:
    """Pose of a car: ``x``, ``y`` the centre of the chassis (metres), ``yaw`` radians, ``speed`` m/s."""

    x: float
    y: float
    yaw: float
    speed: float = 0.0
    steering_deg: float = 0.0


class Car:
    """Kinematic bicycle model (rear-axle reference) with the chassis footprint and wheel positions."""

    def __init__(self, state: CarState, speed_time_constant_s: float = 0.1) -> None:
        self.state = state
        self.tau = speed_time_constant_s

    def step(self, steering_deg: float, speed: float, dt: float = 1.0 / STEP_HZ, substeps: int = 4) -> None:
        """Advance by ``dt`` under a (clipped) command; speed follows the command with a short lag."""
        steering_deg, speed = clip_command(steering_deg, speed)
        s = self.state
        h = dt / substeps
        delta = math.radians(steering_deg)
        rx = s.x - 0.5 * WHEELBASE_M * math.cos(s.yaw)
        ry = s.y - 0.5 * WHEELBASE_M * math.sin(s.yaw)
        v, yaw = s.speed, s.yaw
        alpha = 1.0 - math.exp(-h / self.tau) if self.tau > 0 else 1.0
        for _ in range(substeps):
            v += (speed - v) * alpha
            rx += v * math.cos(yaw) * h
            ry += v * math.sin(yaw) * h
            yaw += v / WHEELBASE_M * math.tan(delta) * h
        yaw = (yaw + math.pi) % (2 * math.pi) - math.pi
        self.state = CarState(
            rx + 0.5 * WHEELBASE_M * math.cos(yaw), ry + 0.5 * WHEELBASE_M * math.sin(yaw), yaw, v, steering_deg
        )

    @property
    def front(self) -> np.ndarray:
        """The car's front axle centre (DeepRacer reports this point as ``x``, ``y``)."""
        s = self.state
        return np.array([s.x + 0.5 * WHEELBASE_M * math.cos(s.yaw), s.y + 0.5 * WHEELBASE_M * math.sin(s.yaw)])

    def wheels(self) -> np.ndarray:
        """The four wheel contact points, (4, 2): front-left, front-right, rear-left, rear-right."""
        s = self.state
        c, si = math.cos(s.yaw), math.sin(s.yaw)
        local = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=float) * [WHEELBASE_M / 2, TRACK_M / 2]
        return np.asarray(np.array([s.x, s.y]) + local @ np.array([[c, si], [-si, c]]), dtype=np.float64)

    def footprint(self) -> np.ndarray:
        """The chassis rectangle's corners, (4, 2), counterclockwise."""
        return box_corners(self.state.x, self.state.y, self.state.yaw, LENGTH_M, WIDTH_M)


def box_corners(x: float, y: float, yaw: float, length: float, width: float) -> np.ndarray:
    """Corners (4, 2) of a rectangle centred at (x, y) facing ``yaw``, counterclockwise."""
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=float) * [length / 2, width / 2]
    return np.asarray(np.array([x, y]) + local @ np.array([[c, s], [-s, c]]), dtype=np.float64)


def rectangles_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test for two convex quadrilaterals given by their corners (4, 2)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
        pa = a @ normals.T
        pb = b @ normals.T
        if np.any((pa.max(axis=0) < pb.min(axis=0)) | (pb.max(axis=0) < pa.min(axis=0))):
            return False
    return True
