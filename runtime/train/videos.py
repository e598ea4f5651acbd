"""Rollout videos during training (SageMaker RL's ``monitor: True``): a short greedy episode of the current policy,
played by the driver between iterations (never in the env runners, so sampling is untouched) through the one
episode loop (:func:`runtime.evaluate.video.play_episode`), written to ``output/intermediate/rollout-iteration-N.mp4``.

``record_video_every``: absent (the default; also ``rl.training.config.monitor: true``) records within a budget:
after an iteration, when the videos so far plus one more (planned as twice as long as the last one) stay within
:data:`BUDGET` of the training time so far. ``N`` records every N iterations regardless of cost; ``0`` (or
``monitor: false``) records none. Unless videos are off, the final policy (the one the model folder holds) is always
filmed, to ``rollout-final-iteration-N.mp4``: in a thread started once the model folder is written, while the job
closes its reporter (the TensorBoard files, the learning curve), so a short job pays less of it (its encoding runs in
ffmpeg's own process anyway). Not beside the export, whose checks draw from torch's one random generator as a
stochastic policy does, nor beside anything that makes or closes an environment: PyBullet's environments share
process-wide state (closing one breaks another's rendering). An environment that cannot render turns videos off with
one line; a video never ends a job, and none is made once SIGTERM has arrived.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable, TextIO

from envs.registry import env_info
from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.contracts import Actor, TrainingSession
from runtime.errors import JobInterrupted
from runtime.evaluate.video import Episode, VideoUnavailable, play_episode
from runtime.stop_signals import STOPS
from runtime.timings import mark

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


def final_video_path(intermediate_dir: Path, iteration: int) -> Path:
    """Where the video of the final policy (trained for ``iteration`` iterations) goes."""
    return intermediate_dir / f"rollout-final-iteration-{iteration:06d}.mp4"


class RolloutVideos:
    """Decides when to film the policy during training, and films it (see the module's docstring)."""

    def __init__(
        self,
        spec: TrainingSpec,
        env_id: str | None,
        intermediate_dir: Path,
        out: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
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
        self._final: threading.Thread | None = None
        self._final_outcome: tuple[Path, int, Episode | BaseException, float] | None = None
        """(path, iteration, the episode or what failed, seconds) of the final video, set by its thread."""
        self.off = self.every == 0 or env_id is None
        if env_id is not None and not self.off:
            self._check_renders(env_id)

    def _check_renders(self, env_id: str) -> None:
        info = env_info(env_id)
        if info.multi_agent or not info.renders:
            self._turn_off(
                f"{self.spec.env} cannot render video frames"
                + (" (a multi-agent environment)" if info.multi_agent else "")
            )

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

    def start_final(self, backend: TrainingSession, iteration: int) -> None:
        """Start filming the final policy in a thread (:meth:`wait_final` waits for it); its actor is taken here, in
        the calling thread, so the backend is not used from two threads."""
        if self.off or self.env_id is None:
            return
        try:
            actor = backend.rollout_actor()
        except Exception as exc:  # noqa: BLE001 - a video must never end a training job
            self._failed(iteration, exc)
            return
        if actor is None:
            self._turn_off(f"the {backend.describe()} backend has no policy to film")
            return
        path = final_video_path(self.intermediate_dir, iteration)
        mark("final video")
        self._final = threading.Thread(
            target=self._film_final, args=(actor, path, iteration), name="rlrt-final-video", daemon=True
        )
        self._final.start()

    @property
    def filming(self) -> bool:
        """Whether the final video is being filmed (started and not yet waited for)."""
        return self._final is not None

    def _film_final(self, actor: Actor, path: Path, iteration: int) -> None:
        started = self.clock()
        outcome: Episode | BaseException
        try:
            assert self.env_id is not None
            outcome = play_episode(actor, self.env_id, dict(self.spec.env_config), video=path, seed=iteration)
        except BaseException as exc:  # noqa: BLE001 - told by wait_final, in the job's thread
            outcome = exc
        self._final_outcome = (path, iteration, outcome, self.clock() - started)

    def wait_final(self, kept: str) -> None:
        """Wait for the final video and say how it went; a stop signal meanwhile ends the job at once
        (:class:`JobInterrupted` saying ``kept``: the model folder is complete) and the video is abandoned."""
        if self._final is None:
            return
        waiting = self.clock()
        try:
            with STOPS.phase_of("the final video"):
                self._final.join()
        except JobInterrupted as exc:
            exc.kept = kept
            raise
        self._final = None
        waited = self.clock() - waiting
        mark("final video done")
        assert self._final_outcome is not None
        path, iteration, outcome, cost = self._final_outcome
        if isinstance(outcome, VideoUnavailable):
            self._turn_off(str(outcome))
        elif isinstance(outcome, BaseException):
            self._failed(iteration, outcome)
        else:
            self.videos.append(path)
            print(
                f"rlrt: rollout video {path.name}: {outcome.frames} frames, episode reward {outcome.reward:.2f}, "
                f"{outcome.steps} steps ({cost:.1f} s, filmed while the reporter closed; the job waited "
                f"{waited:.1f} s for it)",
                file=self.out,
                flush=True,
            )

    def _failed(self, iteration: int, exc: BaseException) -> None:
        print(
            f"rlrt: warning: rollout video at iteration {iteration} failed, videos are off: {exc}",
            file=sys.stderr,
            flush=True,
        )
        self.off = True

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
            self._failed(iteration, exc)
            return None
        finally:
            cost = self.clock() - started
            self.spent += cost
            self.estimate = MARGIN * cost
        self.last_filmed = iteration
        self.videos.append(path)
        print(
            f"rlrt: rollout video {path.name}: {episode.frames} frames, episode reward {episode.reward:.2f}, "
            f"{episode.steps} steps ({cost:.1f} s; videos: {self.share():.1%} of the job's time)",
            file=self.out,
            flush=True,
        )
        return path

    def share(self) -> float:
        """The videos' share of the time since training started."""
        elapsed = self.clock() - self.started
        return self.spent / elapsed if elapsed > 0 else 0.0
