"""Rebuild the shipped DeepRacer tracks: ``python scripts/generate_deepracer_tracks.py`` (writes
``envs/deepracer/tracks/*.npy``, each validated; prints name, rows, length and direction)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from envs.deepracer.trackgen import all_tracks
from envs.deepracer.tracks import TRACKS_DIR, Track


def main() -> int:
    TRACKS_DIR.mkdir(parents=True, exist_ok=True)
    for name, array in all_tracks().items():
        track = Track(array, name)
        np.save(TRACKS_DIR / f"{name}.npy", track.array)
        print(f"{name:16s} rows={len(track.array):4d} length={track.length:6.2f} m  {track.direction}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
