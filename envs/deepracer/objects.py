"""Objects on the track: static obstacles (OBJECT_AVOIDANCE) and bot cars following lanes (HEAD_TO_BOT)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from envs.deepracer.car import LENGTH_M, WIDTH_M, box_corners
from envs.deepracer.tracks import Track

BOX_SIZE_M = 0.30
BOX_HEIGHT_M = 0.30
BOT_HEIGHT_M = 0.18
START_CLEARANCE_M = 1.5
"""No object is placed closer than this ahead of (or just behind) the car's start."""


@dataclass
class TrackObject:
    """An object on the track. ``along``/``lane`` locate it on the centre line; ``x``/``y``/``yaw`` in the world."""

    kind: str  # "box" | "bot" | "car"
    along: float
    lateral: float
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    speed: float = 0.0
    length: float = BOX_SIZE_M
    width: float = BOX_SIZE_M
    height: float = BOX_HEIGHT_M
    # lane changing (bots)
    lane_target: float = 0.0
    lane_from: float = 0.0
    change_left_m: float = 0.0
    next_change_s: float = math.inf
    extra: dict = field(default_factory=dict)

    def corners(self) -> np.ndarray:
        return box_corners(self.x, self.y, self.yaw, self.length, self.width)

    def place(self, track: Track) -> None:
        point, heading = track.point_at(self.along, self.lateral)
        self.x, self.y, self.yaw = float(point[0]), float(point[1]), float(heading)


def lane_offset(track: Track, along: float, left: bool) -> float:
    """Lateral offset of the centre of the left or right lane at ``along``."""
    hl, hr = track.half_widths_at(along)
    return float(hl) / 2 if left else -float(hr) / 2


def place_obstacles(
    track: Track, start_along: float, count: int, min_gap: float, randomize: bool, rng: np.random.Generator
) -> list[TrackObject]:
    """``count`` boxes in alternating (or random) lanes, at least ``min_gap`` metres apart along the track."""
    usable = track.length - 2 * START_CLEARANCE_M
    if count <= 0:
        return []
    if count * min_gap > usable:
        raise ValueError(
            f"{count} obstacles {min_gap} m apart do not fit on a {track.length:.1f} m track "
            f"(at most {int(usable // min_gap)})."
        )
    if randomize:
        slack = usable - count * min_gap
        cuts = np.sort(rng.uniform(0, slack, size=count))
        offsets = START_CLEARANCE_M + cuts + min_gap * np.arange(count)
        lefts = rng.random(count) < 0.5
    else:
        offsets = START_CLEARANCE_M + usable * (np.arange(count) + 0.5) / count
        lefts = np.arange(count) % 2 == 0
    objects = []
    for off, left in zip(offsets, lefts):
        along = (start_along + float(off)) % track.length
        obj = TrackObject("box", along, lane_offset(track, along, bool(left)))
        obj.place(track)
        objects.append(obj)
    return objects


def place_bots(
    track: Track,
    start_along: float,
    count: int,
    speed: float,
    rng: np.random.Generator,
    lane_change: bool,
    lower_s: float,
    upper_s: float,
) -> list[TrackObject]:
    """``count`` bot cars spread evenly ahead of the start, alternating lanes, driving at ``speed``."""
    bots = []
    usable = track.length - 2 * START_CLEARANCE_M
    for i in range(max(0, count)):
        along = (start_along + START_CLEARANCE_M + usable * i / max(1, count)) % track.length
        left = i % 2 == 0
        lat = lane_offset(track, along, left)
        bot = TrackObject(
            "bot",
            along,
            lat,
            speed=speed,
            length=LENGTH_M,
            width=WIDTH_M,
            height=BOT_HEIGHT_M,
            lane_target=lat,
            lane_from=lat,
        )
        bot.extra["left"] = left
        if lane_change:
            bot.next_change_s = float(rng.uniform(lower_s, upper_s))
        bot.place(track)
        bots.append(bot)
    return bots


def step_bot(
    bot: TrackObject,
    track: Track,
    dt: float,
    now_s: float,
    rng: np.random.Generator,
    lane_change: bool,
    lower_s: float,
    upper_s: float,
    change_distance: float,
) -> None:
    """Move a bot along its lane; start a lane change when its timer runs out (spread over ``change_distance``)."""
    moved = bot.speed * dt
    bot.along = (bot.along + moved) % track.length
    if lane_change and now_s >= bot.next_change_s and bot.change_left_m <= 0:
        bot.extra["left"] = not bot.extra.get("left", True)
        bot.lane_from = bot.lateral
        bot.change_left_m = max(1e-6, change_distance)
        bot.next_change_s = now_s + float(rng.uniform(lower_s, upper_s))
    target = lane_offset(track, bot.along, bool(bot.extra.get("left", True)))
    if bot.change_left_m > 0:
        bot.change_left_m = max(0.0, bot.change_left_m - moved)
        frac = 1.0 - bot.change_left_m / max(1e-6, change_distance)
        bot.lateral = bot.lane_from + (target - bot.lane_from) * frac
    else:
        bot.lateral = target
    bot.place(track)
