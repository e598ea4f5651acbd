"""Generators for the shipped tracks (run ``scripts/generate_deepracer_tracks.py`` to rebuild the ``.npy`` files).

Each generator returns a closed centre line; :func:`track_from_centerline` offsets it by half the track width on
each side into the (N, 6) DeepRacer format (inner border on the inside of the loop).
"""

from __future__ import annotations

import numpy as np

TRACK_WIDTH_M = 1.07
"""The width of AWS's printed tracks (about 42 inches)."""


def resample(points: np.ndarray, spacing: float) -> np.ndarray:
    """Resample a closed polyline (first point not repeated) at about ``spacing`` metres."""
    closed = np.vstack([points, points[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(8, int(round(cum[-1] / spacing)))
    s = np.linspace(0.0, cum[-1], n, endpoint=False)
    return np.stack([np.interp(s, cum, closed[:, 0]), np.interp(s, cum, closed[:, 1])], axis=1)


def track_from_centerline(center: np.ndarray, width: float = TRACK_WIDTH_M, clockwise: bool = False) -> np.ndarray:
    """The (N, 6) array for a closed centre line (first point not repeated); the loop is driven clockwise when asked."""
    x, y = center[:, 0], center[:, 1]
    area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
    if (area < 0) != clockwise:
        center = center[::-1]
    tangent = np.roll(center, -1, axis=0) - np.roll(center, 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    left = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    inside = left if not clockwise else -left  # the loop's interior is on the left when driven counterclockwise
    inner = center + inside * width / 2
    outer = center - inside * width / 2
    rows = np.hstack([center, inner, outer])
    return np.vstack([rows, rows[:1]])


def oval(straight: float = 6.0, radius: float = 2.5) -> np.ndarray:
    """A stadium: two straights joined by half circles (about 27 m)."""
    pts = []
    for x in np.linspace(0, straight, 25, endpoint=False):
        pts.append((x, -radius))
    for a in np.linspace(-np.pi / 2, np.pi / 2, 40, endpoint=False):
        pts.append((straight + radius * np.cos(a), radius * np.sin(a)))
    for x in np.linspace(straight, 0, 25, endpoint=False):
        pts.append((x, radius))
    for a in np.linspace(np.pi / 2, 3 * np.pi / 2, 40, endpoint=False):
        pts.append((radius * np.cos(a), radius * np.sin(a)))
    return resample(np.array(pts), 0.2)


def curvy_loop() -> np.ndarray:
    """A long loop of varying curvature, like AWS's re:Invent tracks (about 28 m)."""
    theta = np.linspace(0, 2 * np.pi, 600, endpoint=False)
    r = 3.6 + 0.7 * np.sin(2 * theta + 0.3) + 0.45 * np.sin(3 * theta + 1.1) + 0.25 * np.cos(5 * theta)
    pts = np.stack([1.5 * r * np.cos(theta), r * np.sin(theta)], axis=1)
    return resample(pts, 0.2)


def hairpins() -> np.ndarray:
    """A serpentine with three 180-degree turns, one of them a tight hairpin (radius 0.8 m)."""
    pts: list[tuple[float, float]] = []
    pos = np.array([0.0, 0.0])
    heading = 0.0

    def straight(length: float) -> None:
        nonlocal pos
        for s in np.linspace(0, length, max(2, int(length / 0.05)), endpoint=False):
            pts.append(tuple(pos + s * np.array([np.cos(heading), np.sin(heading)])))
        pos = pos + length * np.array([np.cos(heading), np.sin(heading)])

    def arc(radius: float, angle: float) -> None:
        nonlocal pos, heading
        sign = np.sign(angle)
        center = pos + sign * radius * np.array([-np.sin(heading), np.cos(heading)])
        start = heading - sign * np.pi / 2
        for a in np.linspace(0, angle, max(4, int(abs(angle) * radius / 0.05)), endpoint=False):
            pts.append(tuple(center + radius * np.array([np.cos(start + a), np.sin(start + a)])))
        heading = heading + angle
        pos = center + radius * np.array([np.cos(start + angle), np.sin(start + angle)])

    straight(6.0)
    arc(1.5, np.pi)
    straight(2.0)
    arc(0.8, -np.pi)
    straight(2.0)
    arc(1.5, np.pi)
    straight(6.0)
    arc(3.8, np.pi)
    return resample(np.array(pts), 0.2)


def all_tracks() -> dict[str, np.ndarray]:
    """Every shipped track by name: counterclockwise and ``_cw`` clockwise variants."""
    shapes = {"oval": oval(), "curvy_loop": curvy_loop(), "hairpins": hairpins()}
    out = {}
    for name, center in shapes.items():
        out[name] = track_from_centerline(center, clockwise=False)
        out[f"{name}_cw"] = track_from_centerline(center, clockwise=True)
    return out
