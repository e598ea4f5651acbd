"""Rollout videos during training (SageMaker RL's ``monitor: True``): a short greedy episode of the current policy,
played by the driver between iterations (never in the env runners, so sampling is untouched) through the one
episode loop (:func:`runtime.evaluate.video.play_episode`), written to ``output/intermediate/rollout-iteration-N.mp4``.

``record_video_every``: absent (the default; also ``rl.training.config.monitor: true``) records within a budget:
after an iteration, when the videos so far plus one more (planned as twice as long as the last one) stay within
:data:`BUDGET` of the training time so far, and at the end of training (the final policy) when the budget allows or
no video was made yet, so that even a short job leaves one. ``N`` records every N iterations regardless of cost;
``0`` (or ``monitor: false``) records none. An environment that cannot render turns videos off with one line; a
video never ends a job, and none is made once SIGTERM has arrived.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, TextIO

from envs.registry import env_info
from runtime.config import hyperparameters as hp
from runtime.config.hyperparameters import TrainingSpec
from runtime.contracts import TrainingSession
from runtime.evaluate.video import VideoUnavailable, play_episode

BUDGET = 0.02
"""The default cadence keeps the videos under this share of the training time."""
MARGIN = 2.0
"""The next video is planned as taking this many times as long as the last one (on a busy machine the same episode
took 5 s, then 9 s): a video up to twice as slow as the last still keeps the total within the budget."""
FIRST_VIDEO_GUESS_S = 10.0
"""What the budget assumes the first video costs: a 150-step PyBullet Reacher episode, rendered and encoded, took 4.5 s
on an idle core and 9 s on a busy 2-core machine (CartPole's well under 1 s); assuming less lets the first video
overshoot the budget (measured: 9 s at 346 s of training, 2.6 %)."""


def video_path(intermediate_dir: Path, iteration: int) -> Path:
    """Where the rollout video after ``iteration`` goes."""
    return intermediate_dir / f"rollout-iteration-{iteration:06d}.mp4"


class RolloutVideos:
    """Decides when to film the policy during training, and films it (see the module's docstring)."""

    def __init__(self, spec: TrainingSpec, env_id: str | None, intermediate_dir: Path, out: TextIO,
                 clock: Callable[[], float] = time.monotonic) -> None:
        every = spec.extras.get(hp.RECORD_VIDEO_EVERY)
        self.every: int | None = None if every is None else int(every)
        """None: within the budget; 0: off; N: every N iterations."""
        self.spec = spec
        self.env_id = env_id
        self.intermediate_dir = intermediate_dir
        self.out = out
        self.clock = clock
        self.started = clock()
        self.spent = 0.0
        """Seconds spent on videos so far."""
        self.estimate = FIRST_VIDEO_GUESS_S
        """What the next video is planned to cost."""
        self.last_filmed = -1
        self.videos: list[Path] = []
        self.off = self.every == 0 or env_id is None
        if env_id is not None and not self.off:
            self._check_renders(env_id)

    def _check_renders(self, env_id: str) -> None:
        info = env_info(env_id)
        if info.multi_agent or not info.renders:
            self._turn_off(f"{self.spec.env} cannot render video frames"
                           + (" (a multi-agent environment)" if info.multi_agent else ""))

    def _turn_off(self, reason: str) -> None:
        self.off = True
        print(f"rlrt: {reason}; no rollout videos are recorded.", file=self.out, flush=True)

    def due(self, iteration: int) -> bool:
        """Whether to film after ``iteration``."""
        if self.off:
            return False
        if self.every is not None:
            return iteration % self.every == 0
        training = self.clock() - self.started - self.spent
        return self.spent + self.estimate <= BUDGET * training

    def after_iteration(self, backend: TrainingSession, iteration: int) -> None:
        """Film the current policy if it is time to."""
        if self.due(iteration):
            self.record(backend, iteration)

    def at_end(self, backend: TrainingSession, iteration: int) -> None:
        """Default cadence: film the final policy when no video was made yet (a job shorter than the budget's first
        video still leaves one), or when the budget allows, unless the last iteration was filmed."""
        if self.off or self.every is not None or self.last_filmed == iteration:
            return
        if not self.videos or self.due(iteration):
            self.record(backend, iteration)

    def record(self, backend: TrainingSession, iteration: int) -> Path | None:
        """Film one greedy episode of ``backend``'s current policy; returns the video, or None (videos turned off)."""
        if self.env_id is None:  # nothing to film: videos are off
            return None
        path = video_path(self.intermediate_dir, iteration)
        started = self.clock()
        try:
            actor = backend.rollout_actor()  # inside: a policy the serving form cannot take fails like a video
            if actor is None:
                self._turn_off(f"the {backend.describe()} backend has no policy to film")
                return None
            episode = play_episode(actor, self.env_id, dict(self.spec.env_config), video=path, seed=iteration)
        except VideoUnavailable as exc:
            self._turn_off(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a video must never end a training job
            print(f"rlrt: warning: rollout video at iteration {iteration} failed, videos are off: {exc}",
                  file=sys.stderr, flush=True)
            self.off = True
            return None
        finally:
            cost = self.clock() - started
            self.spent += cost
            self.estimate = MARGIN * cost
        self.last_filmed = iteration
        self.videos.append(path)
        print(f"rlrt: rollout video {path.name}: {episode.frames} frames, episode reward {episode.reward:.2f}, "
              f"{episode.steps} steps ({cost:.1f} s; videos: {self.share():.1%} of the job's time)",
              file=self.out, flush=True)
        return path

    def share(self) -> float:
        """The videos' share of the time since training started."""
        elapsed = self.clock() - self.started
        return self.spent / elapsed if elapsed > 0 else 0.0
