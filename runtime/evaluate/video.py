"""Rollout videos: play one episode with a policy and stream its frames into an H.264 mp4, headless.

Frames come from the environment's ``render_mode="rgb_array"`` (PyBullet's TinyRenderer, pygame surfaces for
gymnasium's classic control; no display needed) and go straight to ffmpeg through imageio-ffmpeg, so a long
episode never holds its frames in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

DEFAULT_FPS = 30
MAX_VIDEO_STEPS = 2000


@dataclass(frozen=True)
class Episode:
    """How one played episode went."""

    reward: float
    steps: int
    frames: int
    video: Path | None


class Mp4Writer:
    """Write RGB frames (``uint8 [h, w, 3]``) to an mp4 with imageio-ffmpeg's bundled ffmpeg."""

    def __init__(self, path: Path, fps: int = DEFAULT_FPS) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self._writer: Any = None

    def write(self, frame: np.ndarray) -> None:
        import imageio_ffmpeg

        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"a video frame must be [height, width, 3] RGB, got shape {frame.shape}")
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = frame.shape[:2]
            self._size = (width - width % 2, height - height % 2)
            self._writer = imageio_ffmpeg.write_frames(
                str(self.path), self._size, fps=self.fps, codec="libx264", pix_fmt_out="yuv420p",
                macro_block_size=1, quality=7, ffmpeg_log_level="error",
            )
            self._writer.send(None)
        self._writer.send(frame[: self._size[1], : self._size[0]].tobytes())
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def play_episode(
    act: Callable[[np.ndarray], Any],
    env_id: str,
    env_config: Mapping[str, Any] | None = None,
    video: Path | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
    fps: int = DEFAULT_FPS,
) -> Episode:
    """Play one episode of ``env_id`` with ``act`` (observation -> action); record it to ``video`` if given."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from envs.registry import make_env

    config = dict(env_config or {})
    if video is not None:
        config["render_mode"] = "rgb_array"
    env = make_env(env_id, config)
    writer = Mp4Writer(video, fps=int(env.metadata.get("render_fps") or fps)) if video is not None else None
    limit = max_steps or (MAX_VIDEO_STEPS if video is not None else None)
    total, steps = 0.0, 0
    try:
        observation, _ = env.reset(seed=seed)
        if writer is not None:
            writer.write(env.render())
        while True:
            observation, reward, terminated, truncated, _ = env.step(act(observation))
            total += float(reward)
            steps += 1
            if writer is not None:
                writer.write(env.render())
            if terminated or truncated or (limit is not None and steps >= limit):
                break
    finally:
        if writer is not None:
            writer.close()
        env.close()
    return Episode(total, steps, writer.frames if writer else 0, video)


def torch_actor(policy: Any) -> Callable[[np.ndarray], Any]:
    """observation -> environment action, from a :mod:`runtime.export.policy` torch policy."""
    import torch

    def act(observation: np.ndarray) -> Any:
        with torch.no_grad():
            action = policy(torch.as_tensor(np.asarray(observation, dtype=np.float32)[None]))[0][0].numpy()
        return int(action) if action.ndim == 0 else action

    return act


def count_frames(path: Path) -> int:
    """Decode ``path`` and count its frames (for checks)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        reader.__next__()  # metadata
        return sum(1 for _ in reader)
    finally:
        reader.close()
