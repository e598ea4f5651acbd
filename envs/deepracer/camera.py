"""The front camera: a 160x120 grayscale view from the car, rendered with numpy.

The track is painted once into a top-down texture (ground, track surface, white borders, dashed centre line); each
frame looks up the ground point every pixel sees (precomputed in the car's frame for a pinhole camera at DeepRacer's
height and tilt), and draws objects as shaded boxes, far to near.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw

from envs.deepracer.objects import TrackObject
from envs.deepracer.tracks import Track

HEIGHT, WIDTH = 120, 160
GROUND, SURFACE, BORDER, CENTER_LINE, SKY = 70, 35, 240, 190, 150
BOX_SHADE, BOT_SHADE = 215, 110
TEXTURE_RES_M = 0.02
BORDER_WIDTH_M = 0.05
CENTER_WIDTH_M = 0.03
DASH_M = 0.15
MAX_RANGE_M = 12.0
Texture = tuple[np.ndarray, tuple[float, float]]
"""What :func:`track_texture` paints: the image and the world coordinates of its pixel (0, 0)."""


def track_texture(track: Track, res: float = TEXTURE_RES_M, margin: float = 1.0) -> Texture:
    """A top-down uint8 image of the track and the world coordinates of its pixel (0, 0) (x right, y up rows)."""
    xmin, ymin, xmax, ymax = track.bounds(margin)
    w, h = int(math.ceil((xmax - xmin) / res)) + 1, int(math.ceil((ymax - ymin) / res)) + 1
    img = Image.new("L", (w, h), GROUND)
    draw = ImageDraw.Draw(img)

    def px(points: np.ndarray) -> list[tuple[float, float]]:
        return [((p[0] - xmin) / res, (p[1] - ymin) / res) for p in points]

    draw.polygon(px(track.outer), fill=SURFACE)
    draw.polygon(px(track.inner), fill=GROUND)
    bw = max(1, int(round(BORDER_WIDTH_M / res)))
    for border in (track.outer, track.inner):
        draw.line(px(np.vstack([border, border[:1]])), fill=BORDER, width=bw, joint="curve")
    cw = max(1, int(round(CENTER_WIDTH_M / res)))
    # Dashed centre line: alternate DASH_M on, DASH_M off along the centre line.
    s = np.arange(0.0, track.length, DASH_M)
    pts, _ = track.point_at(s)
    for i in range(0, len(pts) - 1, 2):
        draw.line(px(pts[i : i + 2]), fill=CENTER_LINE, width=cw)
    return np.asarray(img, dtype=np.uint8), (xmin, ymin)


class Camera:
    """A pinhole camera on the car: ``forward_m`` ahead of the chassis centre, ``left_m`` to its left."""

    def __init__(
        self,
        track: Track,
        height_m: float = 0.12,
        pitch_deg: float = 12.0,
        hfov_deg: float = 120.0,
        forward_m: float = 0.12,
        left_m: float = 0.0,
        texture: Texture | None = None,
    ) -> None:
        self.texture, self.origin = texture if texture is not None else track_texture(track)
        self.tex_h, self.tex_w = self.texture.shape
        self.height, self.forward, self.left = height_m, forward_m, left_m
        self.f = (WIDTH / 2) / math.tan(math.radians(hfov_deg) / 2)
        self.pitch = math.radians(pitch_deg)
        u, v = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
        xc, yc = (u - WIDTH / 2) / self.f, (v - HEIGHT / 2) / self.f
        down = yc * math.cos(self.pitch) + math.sin(self.pitch)
        fwd = math.cos(self.pitch) - yc * math.sin(self.pitch)
        t = np.where(down > 1e-6, height_m / np.maximum(down, 1e-6), np.inf)
        ground = (down > 1e-6) & (t * fwd < MAX_RANGE_M)
        self.ground_idx = np.flatnonzero(ground.ravel())
        self.g_fwd = (t * fwd).ravel()[self.ground_idx] + forward_m
        self.g_left = (-t * xc).ravel()[self.ground_idx] + left_m
        base = np.full(HEIGHT * WIDTH, SKY, dtype=np.uint8)
        base[(down > 1e-6).ravel() & ~ground.ravel()] = GROUND
        self.base = base

    def render(self, x: float, y: float, yaw: float, objects: Iterable[TrackObject] = ()) -> np.ndarray:
        """The (120, 160) uint8 frame seen from a car at (x, y) facing ``yaw``."""
        c, s = math.cos(yaw), math.sin(yaw)
        wx = x + self.g_fwd * c - self.g_left * s
        wy = y + self.g_fwd * s + self.g_left * c
        ix = ((wx - self.origin[0]) * (1.0 / TEXTURE_RES_M)).astype(np.int32)
        iy = ((wy - self.origin[1]) * (1.0 / TEXTURE_RES_M)).astype(np.int32)
        inside = (ix >= 0) & (ix < self.tex_w) & (iy >= 0) & (iy < self.tex_h)
        frame = self.base.copy()
        seen = self.texture[np.clip(iy, 0, self.tex_h - 1), np.clip(ix, 0, self.tex_w - 1)]
        frame[self.ground_idx] = np.where(inside, seen, GROUND)
        image = frame.reshape(HEIGHT, WIDTH)
        drawn = self._objects_in_view(x, y, yaw, objects)
        for _, kind, u0, u1, v0, v1 in sorted(drawn, key=lambda d: -d[0]):
            image[v0:v1, u0:u1] = BOX_SHADE if kind == "box" else BOT_SHADE
        return image

    def _project(self, fwd: np.ndarray, left: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Car-frame points -> pixel (u, v) and depth along the optical axis."""
        f = fwd - self.forward
        lt = left - self.left
        dz = up - self.height
        depth = f * math.cos(self.pitch) - dz * math.sin(self.pitch)
        down = -dz * math.cos(self.pitch) - f * math.sin(self.pitch)
        safe = np.maximum(depth, 1e-3)
        return WIDTH / 2 - self.f * lt / safe, HEIGHT / 2 + self.f * down / safe, depth

    def _objects_in_view(self, x: float, y: float, yaw: float, objects: Iterable[TrackObject]) -> list[tuple]:
        out = []
        c, s = math.cos(yaw), math.sin(yaw)
        for obj in objects:
            corners = obj.corners()
            dx, dy = corners[:, 0] - x, corners[:, 1] - y
            fwd, left = dx * c + dy * s, -dx * s + dy * c
            if np.all(fwd - self.forward < 0.05) or np.hypot(fwd.mean(), left.mean()) > MAX_RANGE_M:
                continue
            fwd8 = np.concatenate([fwd, fwd])
            left8 = np.concatenate([left, left])
            up8 = np.concatenate([np.zeros(4), np.full(4, obj.height)])
            keep = fwd8 - self.forward > 0.02
            u, v, depth = self._project(fwd8[keep], left8[keep], up8[keep])
            u0, u1 = int(np.clip(np.floor(u.min()), 0, WIDTH)), int(np.clip(np.ceil(u.max()), 0, WIDTH))
            v0, v1 = int(np.clip(np.floor(v.min()), 0, HEIGHT)), int(np.clip(np.ceil(v.max()), 0, HEIGHT))
            if u1 > u0 and v1 > v0:
                out.append((float(depth.mean()), obj.kind, u0, u1, v0, v1))
        return out

    def sees(self, x: float, y: float, yaw: float, objects: Iterable[TrackObject]) -> bool:
        """Whether any object appears in the frame."""
        return bool(self._objects_in_view(x, y, yaw, objects))
