"""The stand-in player's outputs: its log, and its own count of its agents' episodes (``--record FILE``), the
independent record that tests compare rlrt's reported returns with: one JSON line per finished agent episode, with
the scene (one per ``RESET`` command), the agent, its return (every reward the player sent it in that episode, as
sent: float32) and its length in steps."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np


class Log:
    """The player's log, written where ``-logFile`` says (as a Unity player does), else to stdout."""

    def __init__(self, path: str | None) -> None:
        self._out: TextIO = open(path, "a", buffering=1) if path else sys.stdout

    def __call__(self, message: str) -> None:
        self._out.write(f"{time.strftime('%H:%M:%S')} [standin-player pid {os.getpid()}] {message}\n")
        self._out.flush()


class EpisodeRecord:
    """Counts each agent's return and steps since its episode began; appends the episode when it ends."""

    def __init__(self, path: str | None, behavior: str) -> None:
        self.path = Path(path) if path else None
        self.behavior = behavior
        self.scene = 0
        self.returns: dict[int, float] = {}
        self.steps: dict[int, int] = {}

    def reset(self) -> None:
        """A ``RESET`` command: a new scene, every agent at the start of an episode."""
        self.scene += 1
        self.returns.clear()
        self.steps.clear()

    def step(self, agent: int, reward: float, ended: bool, interrupted: bool) -> None:
        """One step of ``agent`` that earned ``reward``; ``ended``: its episode ended (``interrupted``: at MaxStep)."""
        sent = float(np.float32(reward))  # as the agent's info carries it (a protobuf float)
        self.returns[agent] = self.returns.get(agent, 0.0) + sent
        self.steps[agent] = self.steps.get(agent, 0) + 1
        if not (ended or interrupted):
            return
        line = {
            "scene": self.scene,
            "behavior": self.behavior,
            "agent": agent,
            "r": self.returns.pop(agent),
            "l": self.steps.pop(agent),
            "interrupted": interrupted,
            "pid": os.getpid(),
        }
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
