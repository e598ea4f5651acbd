"""Sensors besides the camera: the low-dimensional ``observation`` vector, LIDAR and SECTOR_LIDAR."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from envs.deepracer.car import MAX_SPEED, MAX_STEERING_DEG
from envs.deepracer.objects import TrackObject
from envs.deepracer.tracks import Track

LOOKAHEAD_M = (0.3, 0.6, 1.0, 1.5, 2.2, 3.0)
OBJECTS_SEEN = 2
VECTOR_SIZE = 5 + 2 * len(LOOKAHEAD_M) + 3 * OBJECTS_SEEN
LIDAR_RAYS = 64
LIDAR_MIN_M, LIDAR_MAX_M = 0.15, 1.0
SECTORS = 8
SECTOR_DISTANCE_M = 0.5


def state_vector(
    track: Track,
    x: float,
    y: float,
    yaw: float,
    speed: float,
    steering_deg: float,
    along: float,
    lateral: float,
    half_left: float,
    half_right: float,
    objects: Sequence[TrackObject],
) -> np.ndarray:
    """The ``observation`` sensor: speed, steering, offset from the centre (fraction of the half-width), heading
    error (sin, cos), centre-line points ahead in the car's frame, and the two nearest objects ahead."""
    _, track_heading = track.point_at(along)
    err = yaw - float(track_heading)
    offset = lateral / max(1e-6, half_left if lateral >= 0 else half_right)
    c, s = math.cos(yaw), math.sin(yaw)
    ahead, _ = track.point_at(along + np.asarray(LOOKAHEAD_M))
    dx, dy = ahead[:, 0] - x, ahead[:, 1] - y
    look = np.stack([dx * c + dy * s, -dx * s + dy * c], axis=1).ravel() / 3.0
    objs = np.zeros((OBJECTS_SEEN, 3))
    if objects:
        pos = np.array([[o.x, o.y] for o in objects])
        ox, oy = pos[:, 0] - x, pos[:, 1] - y
        fwd, left = ox * c + oy * s, -ox * s + oy * c
        dist = np.hypot(fwd, left)
        order = [i for i in np.argsort(dist) if fwd[i] > -0.3 and dist[i] < 5.0][:OBJECTS_SEEN]
        for k, i in enumerate(order):
            objs[k] = (fwd[i] / 3.0, left[i] / 3.0, 1.0)
    head = [
        speed / MAX_SPEED,
        steering_deg / MAX_STEERING_DEG,
        float(np.clip(offset, -3, 3)),
        math.sin(err),
        math.cos(err),
    ]
    return np.asarray(np.clip(np.concatenate([head, look, objs.ravel()]), -10, 10), dtype=np.float32)


def lidar(x: float, y: float, yaw: float, objects: Sequence[TrackObject], rays: int = LIDAR_RAYS) -> np.ndarray:
    """Distances (metres, clipped to [0.15, 1.0]) along ``rays`` directions all round the car to the nearest object."""
    angles = yaw + np.linspace(-math.pi, math.pi, rays, endpoint=False)
    out = np.full(rays, LIDAR_MAX_M, dtype=np.float64)
    if not objects:
        return out.astype(np.float32)
    dirs = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for obj in objects:
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        ox, oy = x - obj.x, y - obj.y
        # origin and directions in the box's frame
        o = np.array([ox * c + oy * s, -ox * s + oy * c])
        d = np.stack([dirs[:, 0] * c + dirs[:, 1] * s, -dirs[:, 0] * s + dirs[:, 1] * c], axis=1)
        half = np.array([obj.length / 2, obj.width / 2])
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-half - o) / d
            t2 = (half - o) / d
        tmin = np.nanmax(np.minimum(t1, t2), axis=1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=1)
        hit = tmax >= np.maximum(tmin, 0.0)
        dist = np.where(tmin > 0, tmin, 0.0)
        out = np.where(hit, np.minimum(out, dist), out)
    return np.clip(out, LIDAR_MIN_M, LIDAR_MAX_M).astype(np.float32)


def sector_lidar(distances: np.ndarray, sectors: int = SECTORS) -> np.ndarray:
    """SECTOR_LIDAR: 1.0 for each of ``sectors`` sectors with an object nearer than 0.5 m, else 0.0."""
    return np.asarray(distances.reshape(sectors, -1).min(axis=1) < SECTOR_DISTANCE_M, dtype=np.float32)
