"""When training films its policy (runtime.train.videos): the 2 % budget by default, every N, off, environments that
cannot render; and a real CartPole video of a policy."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from runtime.config import hyperparameters as hp
from runtime.evaluate.video import count_frames
from runtime.plugins import INSTALLED
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
    videos.at_end(PushLeft(), 5)
    assert not list(tmp_path.iterdir())


def test_a_short_job_gets_one_video_of_its_final_policy(tmp_path: Path) -> None:
    videos = videos_for({}, tmp_path)
    videos.after_iteration(PushLeft(), 1)  # far below the budget: nothing
    assert not videos.videos
    videos.at_end(PushLeft(), 2)
    assert [p.name for p in videos.videos] == ["rollout-iteration-000002.mp4"]
    frames = count_frames(videos.videos[0])
    assert 5 < frames < 60  # pushing left topples the pole within a few dozen steps (one frame per step + reset)
    assert "rollout video rollout-iteration-000002.mp4" in videos.out.getvalue()
    videos.at_end(PushLeft(), 2)
    assert len(videos.videos) == 1
