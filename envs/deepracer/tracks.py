"""DeepRacer tracks: the (N, 6) waypoint format, loading, validation and the geometry the reward params need.

A track is a float array of shape (N, 6), columns ``[center_x, center_y, inner_x, inner_y, outer_x, outer_y]`` in
metres; a first row equal to the last closes the loop (AWS ships each world's track this way, e.g.
``reInvent2019_track.npy``). This project ships its own generated tracks (``envs/deepracer/tracks/*.npy``, made by
``scripts/generate_deepracer_tracks.py``); a user brings another one as ``<WORLD_NAME>.npy``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TRACKS_DIR = Path(__file__).resolve().parent / "tracks"
DEFAULT_TRACK = "oval"
MIN_WIDTH_M = 0.1
MAX_WIDTH_M = 10.0


class TrackError(ValueError):
    """A track that cannot be used: missing, malformed, not a loop, or with inconsistent borders."""


def builtin_tracks() -> list[str]:
    """Names of the tracks shipped with the project."""
    return sorted(p.stem for p in TRACKS_DIR.glob("*.npy"))


def validate_track_array(array: Any, name: str = "track") -> np.ndarray:
    """Check a (N, 6) waypoint array and return it as float64 (closed: the last row equals the first).

    Raises :class:`TrackError` naming ``name`` and the problem: wrong shape, non-finite values, too few points,
    not a closed loop, a centre point outside its inner/outer segment, borders on the wrong sides or swapped.
    """
    try:
        data = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an integer beyond float's range
        raise TrackError(f"Track '{name}' is not a numeric array: {exc}") from exc
    if data.ndim != 2 or data.shape[1] != 6:
        raise TrackError(
            f"Track '{name}' has shape {data.shape}; a DeepRacer track is an (N, 6) array of "
            "[center_x, center_y, inner_x, inner_y, outer_x, outer_y] rows."
        )
    if not np.all(np.isfinite(data)):
        row = int(np.argwhere(~np.all(np.isfinite(data), axis=1))[0][0])
        raise TrackError(f"Track '{name}' has a non-finite value in row {row}: {data[row].tolist()}.")
    # Drop consecutive duplicate centre points (zero-length segments).
    keep = np.ones(len(data), dtype=bool)
    keep[1:] = np.linalg.norm(np.diff(data[:, :2], axis=0), axis=1) > 1e-9
    closed_exactly = len(data) > 1 and np.allclose(data[0], data[-1], atol=1e-6)
    data = data[keep]
    if closed_exactly and not np.allclose(data[0], data[-1], atol=1e-6):
        data = np.vstack([data, data[:1]])
    if len(data) < 4:
        raise TrackError(
            f"Track '{name}' has {len(data)} distinct waypoints; a loop needs at least 3 (plus the closing row)."
        )
    seg = np.linalg.norm(np.diff(data[:, :2], axis=0), axis=1)
    if not np.allclose(data[0], data[-1], atol=1e-6):
        gap = float(np.linalg.norm(data[-1, :2] - data[0, :2]))
        if gap <= 2.0 * float(np.median(seg)):
            data = np.vstack([data, data[:1]])  # nearly closed: close it
        else:
            raise TrackError(
                f"Track '{name}' is not a closed loop: its last centre point {data[-1, :2].round(3).tolist()} is "
                f"{gap:.2f} m from its first {data[0, :2].round(3).tolist()}. DeepRacer tracks repeat the first row "
                "as the last."
            )
    center, inner, outer = data[:-1, 0:2], data[:-1, 2:4], data[:-1, 4:6]
    width = np.linalg.norm(outer - inner, axis=1)
    narrow = np.flatnonzero((width < MIN_WIDTH_M) | (width > MAX_WIDTH_M))
    if narrow.size:
        i = int(narrow[0])
        raise TrackError(
            f"Track '{name}' row {i}: the inner and outer border points are {width[i]:.3f} m apart; a track is "
            f"between {MIN_WIDTH_M} and {MAX_WIDTH_M} m wide. Are the columns in the order center, inner, outer?"
        )
    off_mid = np.linalg.norm(center - (inner + outer) / 2.0, axis=1) / width
    bad = np.flatnonzero(off_mid > 0.3)
    if bad.size:
        i = int(bad[0])
        raise TrackError(
            f"Track '{name}' row {i}: the centre point {center[i].round(3).tolist()} is not between its inner "
            f"{inner[i].round(3).tolist()} and outer {outer[i].round(3).tolist()} border points "
            f"({bad.size} rows like this)."
        )
    area_center = _signed_area(center)
    if abs(area_center) < 1e-6:
        raise TrackError(f"Track '{name}' encloses no area: its centre line folds back on itself.")
    if abs(_signed_area(inner)) >= abs(_signed_area(outer)):
        raise TrackError(
            f"Track '{name}': the inner border encloses more area ({abs(_signed_area(inner)):.2f} m^2) than the "
            f"outer border ({abs(_signed_area(outer)):.2f} m^2); inner and outer are swapped (columns 2-3 must be "
            "the inner border, 4-5 the outer)."
        )
    tangent = np.roll(center, -1, axis=0) - center
    side_inner = np.sign(_cross(tangent, inner - center)) * np.sign(area_center)
    wrong = np.flatnonzero(side_inner < 0)
    if wrong.size > max(1, len(center) // 20):
        raise TrackError(
            f"Track '{name}': {wrong.size} of {len(center)} inner border points lie on the outside of the loop "
            f"(first at row {int(wrong[0])}); the inner and outer borders are inconsistent."
        )
    return data


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0])


def _signed_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


@dataclass(frozen=True)
class Projection:
    """Where points lie relative to the centre line (arrays, one entry per point)."""

    segment: np.ndarray
    """Index of the nearest centre-line segment (from waypoint ``segment`` to ``segment + 1``)."""
    t: np.ndarray
    """Position along that segment, 0..1."""
    along: np.ndarray
    """Distance along the centre line from waypoint 0 to the projection, metres."""
    lateral: np.ndarray
    """Signed distance from the centre line, metres (positive: left of the driving direction)."""
    half_width_left: np.ndarray
    half_width_right: np.ndarray
    closest: np.ndarray
    """The projected points on the centre line, (P, 2)."""

    @property
    def on_track(self) -> np.ndarray:
        """Whether each point lies between the borders."""
        return np.where(self.lateral >= 0, self.lateral <= self.half_width_left, -self.lateral <= self.half_width_right)


class Track:
    """A validated closed track with the geometry queries the environment needs."""

    def __init__(self, array: Any, name: str = "track") -> None:
        data = validate_track_array(array, name)
        self.name = name
        self.array = data
        """The (N, 6) rows, closed (last row equals the first)."""
        self.center = data[:-1, 0:2].copy()
        self.inner = data[:-1, 2:4].copy()
        self.outer = data[:-1, 4:6].copy()
        self.n = len(self.center)
        nxt = np.roll(self.center, -1, axis=0)
        self.seg_vec = nxt - self.center
        self.seg_len = np.linalg.norm(self.seg_vec, axis=1)
        self.seg_dir = self.seg_vec / self.seg_len[:, None]
        self.cum = np.concatenate([[0.0], np.cumsum(self.seg_len)])
        self.length = float(self.cum[-1])
        self.counterclockwise = _signed_area(self.center) > 0
        # Which border is on the left of the driving direction at each waypoint.
        inner_left = _cross(self.seg_vec, self.inner - self.center) > 0
        left = np.where(inner_left[:, None], self.inner, self.outer)
        right = np.where(inner_left[:, None], self.outer, self.inner)
        self.left_border, self.right_border = left, right
        self.half_left = np.linalg.norm(left - self.center, axis=1)
        self.half_right = np.linalg.norm(right - self.center, axis=1)
        self.width = np.linalg.norm(self.outer - self.inner, axis=1)
        self.waypoints = [[float(x), float(y)] for x, y in data[:, 0:2]]
        """The centre line as the reward function's ``waypoints`` (all rows as given, the closing one included)."""

    @property
    def direction(self) -> str:
        return "counterclockwise" if self.counterclockwise else "clockwise"

    def reversed(self) -> "Track":
        """The same track driven the other way round."""
        return Track(self.array[::-1].copy(), f"{self.name} (reversed)")

    def project(self, points: np.ndarray) -> Projection:
        """Project (P, 2) points onto the centre line (nearest segment by Euclidean distance)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        rel = pts[:, None, :] - self.center[None, :, :]  # (P, S, 2)
        t = np.clip(np.einsum("psk,sk->ps", rel, self.seg_vec) / (self.seg_len**2)[None, :], 0.0, 1.0)
        foot = self.center[None, :, :] + t[..., None] * self.seg_vec[None, :, :]
        d2 = np.sum((pts[:, None, :] - foot) ** 2, axis=2)
        seg = np.argmin(d2, axis=1)
        rows = np.arange(len(pts))
        tt = t[rows, seg]
        closest = foot[rows, seg]
        side = _cross(self.seg_dir[seg], pts - closest)
        dist = np.sqrt(d2[rows, seg])
        lateral = np.where(side >= 0, dist, -dist)
        nxt = (seg + 1) % self.n
        hl = self.half_left[seg] * (1 - tt) + self.half_left[nxt] * tt
        hr = self.half_right[seg] * (1 - tt) + self.half_right[nxt] * tt
        along = self.cum[seg] + tt * self.seg_len[seg]
        return Projection(seg, tt, along, lateral, hl, hr, closest)

    def point_at(self, along: float | np.ndarray, lateral: float | np.ndarray = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Points at distance ``along`` the centre line and ``lateral`` to its left; also the heading there (rad)."""
        s = np.mod(np.asarray(along, dtype=np.float64), self.length)
        seg = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, self.n - 1)
        t = (s - self.cum[seg]) / self.seg_len[seg]
        base = self.center[seg] + t[..., None] * self.seg_vec[seg]
        direction = self.seg_dir[seg]
        normal = np.stack([-direction[..., 1], direction[..., 0]], axis=-1)
        point = base + np.asarray(lateral, dtype=np.float64)[..., None] * normal
        heading = np.arctan2(direction[..., 1], direction[..., 0])
        return point, heading

    def half_widths_at(self, along: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Left and right half-widths at distance ``along`` the centre line."""
        s = np.mod(np.asarray(along, dtype=np.float64), self.length)
        seg = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, self.n - 1)
        t = (s - self.cum[seg]) / self.seg_len[seg]
        nxt = (seg + 1) % self.n
        return (
            self.half_left[seg] * (1 - t) + self.half_left[nxt] * t,
            self.half_right[seg] * (1 - t) + self.half_right[nxt] * t,
        )

    def bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the borders, grown by ``margin``."""
        pts = np.vstack([self.inner, self.outer, self.center])
        lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def load_track(name_or_path: str | Path, search_dirs: tuple[Path, ...] = ()) -> Track:
    """Load a track by path (``.npy``), by ``<name>.npy`` in ``search_dirs`` (a user's train channel), or by the
    name of a shipped track. Raises :class:`TrackError` naming what was looked for."""
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix == ".npy" or candidate.is_absolute() or "/" in text:
        if not candidate.is_file():
            raise TrackError(f"Track file {candidate} does not exist.")
        return _load_file(candidate, candidate.stem)
    for folder in search_dirs:
        path = Path(folder) / f"{text}.npy"
        if path.is_file():
            return _load_file(path, text)
    shipped = TRACKS_DIR / f"{text}.npy"
    if shipped.is_file():
        return _load_file(shipped, text)
    names = builtin_tracks()
    close = difflib.get_close_matches(text, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    where = f" nor in {', '.join(str(d) for d in search_dirs)}" if search_dirs else ""
    raise TrackError(
        f"Unknown track '{text}': no {text}.npy among the shipped tracks{where}.{hint} Shipped tracks: "
        f"{', '.join(names)}. AWS's own tracks (e.g. reInvent2019_track) are not redistributed: put the world's "
        ".npy into the train channel to use it."
    )


def _load_file(path: Path, name: str) -> Track:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty or truncated file
        raise TrackError(f"Cannot read track file {path}: {exc}") from exc
    try:
        return Track(array, name)
    except TrackError as exc:  # name the file the user brought, not only the track
        raise TrackError(f"Track file {path}: {exc}") from None
