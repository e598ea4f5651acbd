"""Videos of played episodes (evaluation and training rollouts), streamed into H.264 mp4s, headless.

Frames come from the environment's ``render_mode="rgb_array"`` (PyBullet's TinyRenderer, pygame surfaces for
gymnasium's classic control; no display needed) and go straight to ffmpeg through imageio-ffmpeg, so a long
episode never holds its frames in memory.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

import numpy as np

from runtime.evaluate.episodes import batched, flat_observation, run_episodes
from runtime.export.policy import env_action

DEFAULT_FPS = 30
MAX_VIDEO_STEPS = 2000
GIF_FPS = 10
GIF_WIDTH = 320
"""A GIF copy of a video: 10 frames a second at most 320 pixels wide (Coach's gifs played at 10 fps), a few MB."""


def gif_of(video: Path, gif: Path) -> None:
    """Write a GIF copy of the mp4 ``video`` to ``gif`` with the bundled ffmpeg, streamed (no frames held in memory;
    one palette made for the clip) and renamed into place when whole. Raises OSError or
    subprocess.SubprocessError."""
    import imageio_ffmpeg  # heavy: ffmpeg (videos only)

    gif.parent.mkdir(parents=True, exist_ok=True)
    partial = gif.with_name(gif.name + ".partial")
    graph = f"fps={GIF_FPS},scale='min({GIF_WIDTH},iw)':-2:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse"
    try:
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(video),
                "-vf",
                graph,
                "-f",
                "gif",
                str(partial),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        partial.replace(gif)
    finally:
        partial.unlink(missing_ok=True)


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
        import imageio_ffmpeg  # heavy: ffmpeg (videos only)

        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"a video frame must be [height, width, 3] RGB, got shape {frame.shape}")
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = frame.shape[:2]
            self._size = (width - width % 2, height - height % 2)
            self._writer = imageio_ffmpeg.write_frames(
                str(self.path),
                self._size,
                fps=self.fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                macro_block_size=1,
                quality=7,
                ffmpeg_log_level="error",
            )
            self._writer.send(None)
        self._writer.send(frame[: self._size[1], : self._size[0]].tobytes())
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class VideoUnavailable(RuntimeError):
    """The environment cannot render the frames a video needs."""


class EpisodeRecorder:
    """Films the episodes :func:`runtime.evaluate.episodes.run_episodes` plays: episode ``n`` goes to
    ``path_for(n)`` (None: not filmed). An environment that cannot render ``rgb_array`` frames turns recording off:
    with ``strict`` that raises :class:`VideoUnavailable`, otherwise one line says so on ``out`` and the episodes
    go on without videos. Use it as a context manager, so that an interrupted video is closed."""

    def __init__(
        self,
        path_for: Callable[[int], Path | None],
        out: TextIO | None = None,
        strict: bool = False,
        fps: int = DEFAULT_FPS,
        name: str | None = None,
        max_steps: int = MAX_VIDEO_STEPS,
    ) -> None:
        self.path_for = path_for
        self.max_steps = max_steps
        """A video holds an episode's first ``max_steps`` steps (and its first frame)."""
        self.name = name
        """The environment's name in messages (default: its gymnasium id or class)."""
        self.out = out
        self.strict = strict
        self.fps = fps
        self.enabled = True
        self.videos: list[tuple[Path, int]] = []
        """(path, frames) of every finished video."""
        self._writer: Mp4Writer | None = None

    def _unavailable(self, env: Any, reason: str) -> None:
        self.enabled = False
        self.close()
        name = self.name or getattr(getattr(env, "spec", None), "id", None) or type(env.unwrapped).__name__
        message = f"{name} cannot render video frames ({reason})"
        if self.strict:
            raise VideoUnavailable(message)
        if self.out is not None:
            print(f"rlrt: {message}; no videos are recorded.", file=self.out, flush=True)

    def begin(self, env: Any, episode: int) -> None:
        """Start filming ``episode`` if it is to be filmed and ``env`` can render."""
        path = self.path_for(episode) if self.enabled else None
        if path is None:
            return
        if getattr(env, "render_mode", None) != "rgb_array":
            modes = list((getattr(env, "metadata", None) or {}).get("render_modes") or [])
            self._unavailable(env, "render modes: " + (", ".join(map(str, modes)) or "none"))
            return
        self._writer = Mp4Writer(path, fps=int(env.metadata.get("render_fps") or self.fps))
        self.frame(env)

    def frame(self, env: Any) -> None:
        """Add ``env``'s current frame to the video being filmed, up to the first ``max_steps`` steps (a 10,000-step
        episode took minutes to render whole; the episode itself plays on, unfilmed)."""
        if self._writer is None or self._writer.frames > self.max_steps:
            return
        try:
            frame = env.render()
        except NotImplementedError as exc:
            self._unavailable(env, f"render() is not implemented{': ' + str(exc) if str(exc) else ''}")
            return
        if frame is None:
            self._unavailable(env, "render() returned no frame")
            return
        self._writer.write(frame)

    def end(self, episode: int, total_reward: float, steps: int) -> None:
        """Close the episode's video."""
        if self._writer is None:
            return
        path, frames = self._writer.path, self._writer.frames
        self.close()
        self.videos.append((path, frames))
        if self.out is not None:
            part = f": the episode's first {frames - 1} of its {steps} steps" if frames <= steps else ""
            print(f"rlrt: video {path} ({frames} frames{part})", file=self.out, flush=True)

    def close(self) -> None:
        """Close a video still open."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "EpisodeRecorder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def play_episode(
    act: Callable[[np.ndarray], Any],
    env_id: str,
    env_config: Mapping[str, Any] | None = None,
    video: Path | None = None,
    seed: int | None = None,
    max_steps: int | None = None,
    fps: int = DEFAULT_FPS,
) -> Episode:
    """Play one episode of ``env_id`` with ``act`` (observation -> action); record it to ``video`` if given
    (:class:`VideoUnavailable` when the environment cannot render)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    limit = max_steps or (MAX_VIDEO_STEPS if video is not None else None)
    with EpisodeRecorder(lambda _: video, strict=True, fps=fps, name=env_id) as recorder:
        result = run_episodes(
            batched(act),
            env_id,
            episodes=1,
            seed=0 if seed is None else seed,
            env_config=env_config,
            parallel=1,
            recorder=recorder if video is not None else None,
            episode_step_limit=limit,
        )
    frames = recorder.videos[0][1] if recorder.videos else 0
    return Episode(result.returns[0], result.lengths[0], frames, video if recorder.videos else None)


def torch_actor(policy: Any) -> Callable[[np.ndarray], Any]:
    """observation -> environment action, from a :mod:`runtime.export.policy` torch policy."""
    import torch  # heavy: torch (~1.5 s)

    def act(observation: np.ndarray) -> Any:
        with torch.no_grad():
            action = policy(torch.as_tensor(flat_observation(observation)[None]))[0][0].numpy()
        return env_action(head, action)

    head = getattr(policy, "head", None)  # a serving policy's (a backend's own module may have none)

    return act


def count_frames(path: Path) -> int:
    """Decode ``path`` and count its frames (for checks)."""
    import imageio_ffmpeg  # heavy: ffmpeg (videos only)

    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        reader.__next__()  # metadata
        return sum(1 for _ in reader)
    finally:
        reader.close()
