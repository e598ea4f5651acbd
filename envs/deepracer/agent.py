"""One car's episode bookkeeping in the DeepRacer environment."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from envs.deepracer.car import Car
from envs.deepracer.metadata import ModelMetadata


@dataclass
class Agent:
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
    counts: dict = field(
        default_factory=lambda: {
            "crash_count": 0,
            "immobilized_count": 0,
            "off_track_count": 0,
            "reversed_count": 0,
            "reset_count": 0,
        }
    )
    penalty_s: float = 0.0
    last_params: dict = field(default_factory=dict)
    episode: int = 0
    start_wall: float = 0.0
