"""`rlrt evaluate` (the seeds' evaluate-ray.py job) and rollout videos (training and evaluation)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from runtime.evaluate.video import count_frames
from tests.conftest import REPO_ROOT, make_job_tree, rlrt_env, run_rlrt
from tests.quiet_logs import unexpected_lines
from tests.trained_models import cartpole_model, reacher_model, tf_env, tf_python, training_output  # noqa: F401
from tests.unit.test_evaluation import EPISODE, MEAN, TESTING


def test_training_records_a_rollout_video_every_n_iterations_and_one_of_the_final_policy(cartpole_model: Path) -> None:
    videos = sorted((cartpole_model / "output" / "intermediate").glob("*.mp4"))
    # record_video_every=2, 2 iterations; the final policy is filmed as well, under a name that says so
    assert [v.name for v in videos] == ["rollout-final-iteration-000002.mp4", "rollout-iteration-000002.mp4"]
    stdout = training_output(cartpole_model)["stdout"]
    for video in videos:
        line = re.search(
            rf"rollout video {re.escape(video.name)}: (\d+) frames, episode reward [0-9.]+, (\d+) steps", stdout
        )
        assert line, stdout[-2000:]
        frames, steps = int(line.group(1)), int(line.group(2))
        assert frames == steps + 1  # the reset frame and one per step
        assert count_frames(video) == frames  # a whole, decodable H.264 file
    assert re.search(
        r"rollout video rollout-final-iteration-000002\.mp4: .*filmed while the reporter closed; "
        r"the job waited [0-9.]+ s for it\)\n(.*\n)*rlrt: done ",
        stdout,
    ), stdout[-2000:]


def test_the_shared_models_training_logs_hold_only_rlrts_lines(cartpole_model: Path, reacher_model: Path) -> None:
    for tree in (cartpole_model, reacher_model):  # CartPole with a video; PyBullet's Reacher
        output = training_output(tree)
        assert unexpected_lines(output["stdout"] + output["stderr"]) == []


def test_pybullets_slow_step_gets_an_env_runner_per_cpu_on_two_cpus(reacher_model: Path) -> None:
    """Both CPUs sample while PPO's learner waits (runtime/config/runners.py), within what Ray can place: no cap."""
    resolved = json.loads((reacher_model / "model" / "config.json").read_text())
    assert resolved["config"]["num_env_runners"] == 2  # SM_NUM_CPUS=2 (tests.conftest.rlrt_env)
    assert "env runners asked" not in training_output(reacher_model)["stdout"]


def test_evaluate_ray_entry_point_with_a_model_tarball_channel(cartpole_model: Path, tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "opt" / "ml", {"evaluate_episodes": 2, "algorithm": "PPO", "env": "CartPole-v1"})
    with tarfile.open(tree.channel("model") / "model.tar.gz", "w:gz") as archive:
        for item in (cartpole_model / "model").iterdir():
            archive.add(item, arcname=item.name)
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "evaluate-ray.py"), "--evaluate_episodes", "2"],
        cwd=str(tmp_path),
        env=rlrt_env(tree.base),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    episodes = EPISODE.findall(done.stdout)
    assert len(episodes) == 2
    assert len(TESTING.findall(done.stdout)) == 2
    rewards = [float(r) for r, _ in episodes]
    assert float(MEAN.search(done.stdout).group(1)) == pytest.approx(sum(rewards) / 2, abs=1e-3)
    videos = sorted(tree.intermediate.glob("evaluation-episode-*.mp4"))
    assert len(videos) == 2
    assert count_frames(videos[0]) == int(episodes[0][1]) + 1
    summary = json.loads((tree.intermediate / "evaluation.json").read_text())
    assert summary["rewards"] == rewards and summary["env"] == "CartPole-v1"
    assert unexpected_lines(done.stdout + done.stderr) == []  # filmed without SDL's or RLlib's own lines


def test_evaluate_a_continuous_model_under_the_seed_env_name(reacher_model: Path, tmp_path: Path) -> None:
    tree = make_job_tree(
        tmp_path / "opt" / "ml",
        {"evaluate_episodes": 1, "algorithm": "PPO", "env": "RoboschoolReacher-v1", "record_video_every": 0},
    )
    shutil.copytree(reacher_model / "model", tree.channel("model"), dirs_exist_ok=True)
    done = run_rlrt(["evaluate"], base=tree.base, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ((reward, steps),) = EPISODE.findall(done.stdout)
    assert int(steps) == 150  # ReacherBulletEnv's time limit
    assert MEAN.search(done.stdout)
    assert not list(tree.intermediate.glob("*.mp4"))
    assert unexpected_lines(done.stdout + done.stderr) == []  # PyBullet's own lines left out


def test_evaluate_a_model_given_by_a_relative_path(reacher_model: Path, tmp_path: Path) -> None:
    # RLlib opens checkpoints by URI; a relative --model path once failed with "URI has empty scheme".
    relative = os.path.relpath(reacher_model / "model", REPO_ROOT)
    done = run_rlrt(
        [
            "evaluate",
            "--base-dir",
            str(tmp_path / "eval"),
            "--model",
            relative,
            "--set",
            "evaluate_episodes=1",
            "--set",
            "record_video_every=0",
        ],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert MEAN.search(done.stdout)


@pytest.mark.parametrize(
    "hyperparameters, message",
    [
        ({"algorithm": "DQN"}, "'algorithm' is 'DQN' but the model"),
        ({"env": "ReacherBulletEnv-v0"}, "not on ReacherBulletEnv-v0 (observation spaces Box(4,) (model) and Box(9,)"),
        ({"evaluate_episode": 2}, "Did you mean 'evaluate_episodes'?"),
        ({"evaluate_episodes": 0}, "'evaluate_episodes' must be an integer >= 1"),
        ({"env": "NoSuchEnv-v9"}, "Unknown environment 'NoSuchEnv-v9'"),
        # a model of another environment was played without a word when the observations had its shape
        (
            {"env": "tests.bad_value_envs:FourFloatsThreeActions-v0"},
            "was trained on CartPole-v1, not on tests.bad_"
            "value_envs:FourFloatsThreeActions-v0 (action spaces Discrete(2) (model) and Discrete(3) (tests.bad_value_"
            "envs:FourFloatsThreeActions-v0)): its returns there would mean nothing.",
        ),
        ({"env": "tests.bad_value_envs:FourFloats-v0"}, "(the same spaces, but another environment)"),
    ],
)
def test_evaluate_errors_are_clear(cartpole_model: Path, tmp_path: Path, hyperparameters: dict, message: str) -> None:
    tree = make_job_tree(tmp_path / "opt" / "ml", hyperparameters)
    shutil.copytree(cartpole_model / "model", tree.channel("model"), dirs_exist_ok=True)
    done = run_rlrt(["evaluate"], base=tree.base, timeout=120)
    assert done.returncode == 2, done.stdout[-1000:] + done.stderr[-2000:]
    assert message in tree.failure.read_text()


def test_evaluate_without_a_model_channel(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "opt" / "ml", {"evaluate_episodes": 1})
    done = run_rlrt(["evaluate"], base=tree.base, timeout=120)
    assert done.returncode == 2
    failure = tree.failure.read_text()
    # SageMaker's way and a laptop's: the channel, and the flag that names a model.
    assert "'model' input channel" in failure and "outside SageMaker, name the model with --model PATH" in failure


def test_the_metadata_framework_picks_the_loader(cartpole_model: Path, tmp_path: Path) -> None:
    """RLlib's loader (from the checkpoint) and the ONNX fallback (a framework with no loader) act alike."""
    import numpy as np

    from runtime.errors import UserError
    from runtime.evaluate.loaders import load_actor
    from runtime.plugins import INSTALLED

    model = cartpole_model / "model"
    metadata = json.loads((model / "metadata.json").read_text())
    rllib = load_actor(model, metadata, INSTALLED)
    other = load_actor(model, {**metadata, "framework": "some-offline-library"}, INSTALLED)
    for observation in np.random.default_rng(5).standard_normal((20, 4)).astype(np.float32):
        assert rllib(observation) == other(observation)
    with pytest.raises(UserError, match="framework 'some-offline-library'"):
        load_actor(model, {**metadata, "framework": "some-offline-library", "serving": {}}, INSTALLED)
