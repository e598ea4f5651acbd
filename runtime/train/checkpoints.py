"""Checkpoints in ``/opt/ml/checkpoints``: written atomically, the last K kept, the newest found on restart.

Each checkpoint is a folder ``checkpoint_<iteration>`` holding the framework's own checkpoint and
``rlrt_state.json`` (our counters). It is written under a temporary name and renamed into place, so a job killed
mid-write (a spot interruption) never leaves a half checkpoint that a resume would pick up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

STATE_FILE = "rlrt_state.json"
_NAME = re.compile(r"^checkpoint_(\d+)$")


@dataclass(frozen=True)
class TrainingState:
    """The counters a resumed job continues from."""

    training_iteration: int = 0
    timesteps_total: int = 0
    episodes_total: int = 0
    time_total_s: float = 0.0
    preset: str = ""
    algorithm: str = ""
    env: str = ""


class CheckpointManager:
    """Saves and finds checkpoints under one folder."""

    def __init__(self, directory: Path, keep: int = 3) -> None:
        self.directory = directory
        self.keep = max(1, keep)

    def save(self, write: Callable[[Path], None], state: TrainingState) -> Path:
        """Write a checkpoint with ``write(folder)`` plus ``state``; atomically rename it into place; prune."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / f"checkpoint_{state.training_iteration:06d}"
        tmp = self.directory / f".tmp-{final.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write(tmp)
        (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
        if final.exists():
            old = self.directory / f".old-{final.name}-{os.getpid()}"
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
        self._prune()
        return final

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match and (path / STATE_FILE).is_file():
                found.append((int(match.group(1)), path))
        return [path for _, path in sorted(found)]

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        found = self.checkpoints()
        return found[-1] if found else None

    @staticmethod
    def read_state(checkpoint: Path) -> TrainingState:
        """The counters stored in ``checkpoint``."""
        data = json.loads((checkpoint / STATE_FILE).read_text())
        known = set(TrainingState.__dataclass_fields__)
        return TrainingState(**{k: v for k, v in data.items() if k in known})

    def _prune(self) -> None:
        for path in self.checkpoints()[: -self.keep]:
            shutil.rmtree(path, ignore_errors=True)
        # Leftovers of writes that were killed midway.
        for path in self.directory.glob(".tmp-*"):
            if not path.name.endswith(f"-{os.getpid()}"):
                shutil.rmtree(path, ignore_errors=True)
