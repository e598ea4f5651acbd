"""The one evaluator (``rlrt evaluate``) on every kind of model, as real processes: the Unity seed's evaluation job
(``evaluate-unity.py`` with the notebook's hyperparameters, the game in the ``train`` channel) and d3rlpy models
(d3rlpy's own loader, the ONNX fallback, the seeds' ``evaluate_steps`` and legacy ``checkpoint`` channel)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, JobTree, make_job_tree, rlrt_env, run_rlrt
from unity_player.build import make_player, running_players

from runtime.offline.collect import collect
from tests.unit.test_unity_training import free_base_port

TESTING = re.compile(r"^Testing>.*Total reward=(.*?),", re.M)  # Coach's metric definition
EPISODE = re.compile(r"^Episode reward: (\S+)\. Episode steps: (\d+)$", re.M)
MEAN = re.compile(r"^episode_reward_mean: ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)$", re.M)  # the SDK's regex
UNITY_NOTEBOOK = {"evaluate_episodes": 5, "algorithm": "PPO", "env": "Basic"}  # the Unity seed's evaluation cell
OFFLINE_TINY = {
    "preset": "cartpole-bcq",
    "rl.training.config.n_steps_per_epoch": 40,
    "rl.training.config.batch_size": 32,
    "rl.training.config.fqe_steps": 10,
    "rl.training.config.hidden_units": [32, 32],
    "rl.training.stop.epochs": 1,
    "evaluate_episodes": 1,
    "seed": 1,
}


@pytest.fixture(scope="module")
def unity_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny unity-basic-ppo model, trained by a real ``rlrt train`` on the stand-in game in the train channel."""
    tree = make_job_tree(
        tmp_path_factory.mktemp("unity") / "ml",
        {
            "rl.training.config.env_config.base_port": free_base_port(),
            "rl.training.config.train_batch_size_per_learner": 200,
            "rl.training.config.minibatch_size": 100,
            "rl.training.config.num_epochs": 1,
            "rl.training.config.num_envs_per_env_runner": 1,
            "rl.training.stop.training_iteration": 1,
        },
    )
    make_player(tree.channel("train"), "Basic")
    result = run_rlrt(["train", "--default-preset", "unity-basic-ppo"], base=tree.base, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tree.model


@pytest.fixture(scope="module")
def offline_model(tmp_path_factory: pytest.TempPathFactory) -> JobTree:
    """A tiny cartpole-bcq (d3rlpy) training job's tree."""
    rollouts = tmp_path_factory.mktemp("data") / "cartpole.csv"
    collect("CartPole-v0", num_envs=10, num_episodes=2, output=rollouts, seed=0, progress=False)
    tree = make_job_tree(tmp_path_factory.mktemp("offline") / "ml", OFFLINE_TINY)
    shutil.copy(rollouts, tree.channel("train") / "rollouts.csv")
    result = run_rlrt(["train"], base=tree.base, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tree


@pytest.mark.slow
def test_evaluate_unity_with_the_notebook_hyperparameters(unity_model: Path, tmp_path: Path) -> None:
    """The seed's evaluation job: the model channel holds the trained model, the train channel the game (its mode
    bits lost, as S3 loses them). Five episodes, no video (the game cannot render) and one line saying so."""
    tree = make_job_tree(tmp_path / "opt" / "ml", UNITY_NOTEBOOK)
    shutil.copytree(unity_model, tree.channel("model"), dirs_exist_ok=True)
    make_player(tree.channel("train"), "Basic", executable=False)
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "evaluate-unity.py")],
        cwd=str(tmp_path),
        env=rlrt_env(tree.base),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(TESTING.findall(done.stdout)) == 5
    assert len(EPISODE.findall(done.stdout)) == 5 and MEAN.search(done.stdout)
    output = done.stdout + done.stderr
    assert len([line for line in output.splitlines() if "cannot render" in line]) == 1, output[-3000:]
    assert "Traceback" not in output and "NotImplementedError" not in output
    assert not list(tree.intermediate.glob("*.mp4")) and not tree.failure.exists()
    summary = json.loads((tree.intermediate / "evaluation.json").read_text())
    assert summary["env"] == "unity:Basic" and len(summary["rewards"]) == 5
    assert f"{tree.channel('train') / 'Basic.x86_64'} started" in done.stderr  # the game in the train channel
    assert not running_players(tree.channel("train"))


@pytest.mark.slow
def test_evaluate_plays_a_d3rlpy_model_folder(offline_model: JobTree, tmp_path: Path) -> None:
    """``rlrt evaluate`` on a d3rlpy model folder: d3rlpy's loader, the one summary, videos of a game that renders;
    ``algorithm`` BCQ names the model's DiscreteBCQ."""
    tree = make_job_tree(tmp_path / "opt" / "ml", {"evaluate_episodes": 2, "algorithm": "BCQ"})
    shutil.copytree(offline_model.model, tree.channel("model"), dirs_exist_ok=True)
    done = run_rlrt(["evaluate"], base=tree.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "DiscreteBCQ model" in done.stdout
    episodes = EPISODE.findall(done.stdout)
    rewards = [float(x) for x in TESTING.findall(done.stdout)]
    assert len(episodes) == len(rewards) == 2
    assert float(MEAN.search(done.stdout).group(1)) == pytest.approx(np.mean(rewards), abs=0.01)
    summary = json.loads((tree.intermediate / "evaluation.json").read_text())
    assert summary["env"] == "CartPole-v0" and summary["returns"] == summary["rewards"]
    assert [v.name for v in sorted(tree.intermediate.glob("*.mp4"))] == [
        "evaluation-episode-0001.mp4",
        "evaluation-episode-0002.mp4",
    ]
    assert "cannot render" not in done.stdout


def test_a_long_evaluation_films_a_handful_of_episodes(offline_model: JobTree, tmp_path: Path) -> None:
    """Without record_video_every, the first 5 episodes are filmed, not every one (105 videos before)."""
    tree = make_job_tree(tmp_path / "opt" / "ml", {"evaluate_episodes": 7})
    shutil.copytree(offline_model.model, tree.channel("model"), dirs_exist_ok=True)
    done = run_rlrt(["evaluate"], base=tree.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(EPISODE.findall(done.stdout)) == 7
    assert [v.name for v in sorted(tree.intermediate.glob("*.mp4"))] == [
        f"evaluation-episode-{i:04d}.mp4" for i in range(1, 6)
    ]
    assert (
        "rlrt: videos of the first 5 episodes (the hyperparameter record_video_every=N films every Nth" in done.stdout
    )


@pytest.mark.slow
def test_evaluate_steps_from_a_d3rlpy_checkpoint_in_the_checkpoint_channel(
    offline_model: JobTree, tmp_path: Path
) -> None:
    """The Coach flow: a checkpoint (no metadata.json) in the legacy channel, the env from the preset, and
    ``evaluate_steps``: the evaluation stops at the end of the episode that crosses N steps."""
    tree = make_job_tree(
        tmp_path / "opt" / "ml",
        {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq-env", "evaluate_steps": 30, "record_video_every": 0},
    )
    shutil.copytree(offline_model.checkpoints, tree.channel("checkpoint"), dirs_exist_ok=True)
    done = run_rlrt(["evaluate"], base=tree.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lengths = [int(steps) for _, steps in EPISODE.findall(done.stdout)]
    assert sum(lengths) >= 30 and sum(lengths[:-1]) < 30
    steps = [int(s) for s in re.findall(r"^Testing>.*Steps=(\d+),", done.stdout, re.M)]
    assert steps == lengths  # each Testing> line carries its own episode's steps, not a running counter


def test_d3rlpy_loader_and_onnx_fallback_act_alike(offline_model: JobTree) -> None:
    from runtime.evaluate.loaders import load_actor, locate
    from runtime.plugins import INSTALLED

    model_dir, metadata = locate(offline_model.model, INSTALLED)
    assert metadata["framework"] == "d3rlpy"
    d3rlpy_policy = load_actor(model_dir, metadata, INSTALLED)
    onnx_policy = load_actor(model_dir, {**metadata, "framework": "some-offline-library"}, INSTALLED)
    for observation in np.random.default_rng(3).standard_normal((20, 4)).astype(np.float32):
        assert int(d3rlpy_policy(observation)) == int(onnx_policy(observation))


def test_algorithm_names_match_their_variants() -> None:
    from runtime.evaluate.settings import algorithm_matches

    assert algorithm_matches("BCQ", "DiscreteBCQ") and algorithm_matches("ppo", "PPO")
    assert algorithm_matches("DiscreteBCQ", "DiscreteBCQ")
    assert not algorithm_matches("PPO", "APPO") and not algorithm_matches("CQL", "DiscreteBCQ")


def test_an_empty_model_channel_fails_clearly(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "opt" / "ml", {"evaluate_episodes": 1})
    tree.channel("model")
    done = run_rlrt(["evaluate"], base=tree.base, timeout=120)
    assert done.returncode == 2
    assert "No model in" in tree.failure.read_text() and "Traceback" not in done.stderr
