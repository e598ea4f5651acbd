"""When training films its policy (runtime.train.videos): the 2 % budget by default, every N, off, environments that
cannot render; and a real CartPole video of a policy."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.config import hyperparameters as hp
from runtime.errors import JobInterrupted
from runtime.evaluate.video import count_frames
from runtime.plugins import INSTALLED
from runtime.stop_signals import STOPS
from runtime.train.videos import BUDGET, FIRST_VIDEO_GUESS_S, MARGIN, RolloutVideos

validator_for = INSTALLED.validator_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class PushLeft:
    """A policy (CartPole: always push left) in the shape the driver films: ``rollout_actor()``."""

    def describe(self) -> str:
        return "push-left on CartPole-v1"

    def rollout_actor(self) -> Any:
        return lambda observation: 0


def videos_for(hyperparameters: dict[str, Any], tmp_path: Path, clock: Clock | None = None) -> RolloutVideos:
    spec = hp.resolve(hyperparameters, validator_for, num_cpus=2)
    from envs.registry import canonical_env_id

    return RolloutVideos(spec, canonical_env_id(spec.env), tmp_path, io.StringIO(), clock=clock or Clock())


def test_default_cadence_keeps_videos_within_the_budget(tmp_path: Path) -> None:
    clock = Clock()
    videos = videos_for({}, tmp_path, clock)
    assert videos.every is None
    clock.now = FIRST_VIDEO_GUESS_S / BUDGET - 1
    assert not videos.due(1)  # the first video would cost more than 2 % of the training so far
    clock.now = FIRST_VIDEO_GUESS_S / BUDGET
    assert videos.due(2)
    videos.spent, videos.estimate = 3.0, MARGIN * 3.0  # one video made, 3 s; the next planned as 6 s
    clock.now = 3.0 + 449.0  # 449 s of training: 9 s of videos would be 2.004 %
    assert not videos.due(3)
    clock.now = 3.0 + 450.0
    assert videos.due(4)


def test_every_n_and_off(tmp_path: Path) -> None:
    every = videos_for({"record_video_every": "3"}, tmp_path)
    assert [i for i in range(1, 10) if every.due(i)] == [3, 6, 9]
    assert not any(videos_for({"record_video_every": 0}, tmp_path).due(i) for i in range(1, 10))
    assert not any(videos_for({"rl.training.config.monitor": False}, tmp_path).due(i) for i in range(1, 10))


def test_an_environment_that_cannot_render_is_skipped_with_one_line(tmp_path: Path) -> None:
    videos = videos_for({"preset": "unity-basic-ppo"}, tmp_path)
    assert videos.off and videos.out.getvalue().count("\n") == 1
    assert "cannot render video frames" in videos.out.getvalue()
    videos.start_final(PushLeft(), 5)
    videos.wait_final("")
    assert not list(tmp_path.iterdir())


def test_the_final_policy_is_filmed_in_a_thread_named_final(tmp_path: Path) -> None:
    videos = videos_for({}, tmp_path)
    videos.after_iteration(PushLeft(), 1)  # far below the budget: nothing
    assert not videos.videos
    videos.start_final(PushLeft(), 2)
    waiting = threading.enumerate()
    videos.wait_final("")
    assert any(t.name == "rlrt-final-video" for t in waiting)  # filmed beside the job's own thread
    assert [p.name for p in videos.videos] == ["rollout-final-iteration-000002.mp4"]
    frames = count_frames(videos.videos[0])
    assert 5 < frames < 60  # pushing left topples the pole within a few dozen steps (one frame per step + reset)
    assert "rollout video rollout-final-iteration-000002.mp4" in videos.out.getvalue()
    assert "filmed while the reporter closed" in videos.out.getvalue()


def test_the_final_policy_is_filmed_with_every_n_too_but_not_when_off(tmp_path: Path) -> None:
    every = videos_for({"record_video_every": 3}, tmp_path / "every")
    every.start_final(PushLeft(), 2)
    every.wait_final("")
    assert [p.name for p in every.videos] == ["rollout-final-iteration-000002.mp4"]
    off = videos_for({"record_video_every": 0}, tmp_path / "off")
    off.start_final(PushLeft(), 2)
    off.wait_final("")
    assert not off.videos and not (tmp_path / "off").exists()


class Sleepy(PushLeft):
    """A policy that thinks for a while per step (a slow video)."""

    def rollout_actor(self) -> Any:
        def act(observation: Any) -> int:
            time.sleep(0.05)
            return 0

        return act


def test_a_signal_while_waiting_for_the_final_video_stops_the_job_saying_what_it_kept(tmp_path: Path) -> None:
    videos = videos_for({}, tmp_path)
    with STOPS.handling():
        videos.start_final(Sleepy(), 1)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with pytest.raises(JobInterrupted) as raised:
            videos.wait_final("model/ is complete")
    assert raised.value.phase == "the final video" and raised.value.kept == "model/ is complete"


def test_an_evaluation_video_holds_the_first_steps_of_a_long_episode(tmp_path: Path) -> None:
    """The episode plays to its end (its return and length are the whole episode's, as gymnasium's own count says);
    the video stops at ``max_steps`` and says so."""
    from runtime.evaluate.episodes import run_episodes
    from runtime.evaluate.video import EpisodeRecorder

    out = io.StringIO()
    with EpisodeRecorder(lambda _: tmp_path / "e.mp4", out, max_steps=5) as recorder:
        result = run_episodes(
            lambda observations: [0] * len(observations),
            "CartPole-v1",
            episodes=1,
            seed=0,
            parallel=1,
            recorder=recorder,
        )
    [length] = result.lengths
    assert length > 5 and list(result.returns) == [float(length)]  # CartPole pays 1 a step
    assert count_frames(tmp_path / "e.mp4") == 6  # the first frame, then 5 steps
    assert f"(6 frames: the episode's first 5 of its {length} steps)" in out.getvalue()
