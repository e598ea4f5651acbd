"""The seed notebooks' own ``src/`` scripts (``../shared/smrl/``, byte-for-byte: never copied into the project) run
unchanged through the container's ``train`` in script mode, with the notebooks' hyperparameters (the commented ones
included) and tiny stops, through rlrt's own pytest plugin (the ``rlrt_job`` fixture, as a user's tests take it);
then the notebooks' evaluation step plays the model they left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from runtime.evaluate.video import count_frames
from runtime.plugins import INSTALLED
from runtime.pytest_plugin import JobResult, RlrtJobs
from runtime.serving.model_store import OnnxPolicy
from tests.conftest import REPO_ROOT
from tests.unity_player.build import make_player, running_players

SMRL = REPO_ROOT.parent / "shared" / "smrl"
pytestmark = pytest.mark.skipif(not SMRL.is_dir(), reason=f"the seeds' own scripts are not here: {SMRL} is missing")

ROBOSCHOOL_NOTEBOOK = {"rl.training.config.horizon": 5000, "rl.training.config.num_sgd_iter": 10}
"""The Roboschool notebook's hyperparameters: its two commented overrides."""
SMALL_BATCHES = {"rl.training.config.train_batch_size": 600, "rl.training.config.sgd_minibatch_size": 200}
"""The scripts' 25,000-step batches made small enough for a test (the stop is tiny anyway)."""
UNITY_NOTEBOOK = {
    "rl.training.config.env_config.env_name": "basic_env_linux.x86_64",
    "rl.training.stop.timesteps_total": 1000,
    "rl.training.config.num_sgd_iter": 10,
}
"""The Unity notebook's "custom executable" cell: its commented overrides, the game in the ``train`` channel."""


def assert_trained_and_servable(run: JobResult, env_name: str) -> dict:
    """Exit 0, the SDK's metric lines, no failure, a model whose ONNX policy acts as its checkpoint does."""
    assert run.returncode == 0, run.output[-4000:]
    assert "rlrt: running the entry point: " in run.output
    assert run.last("training_iteration") is not None and run.last("episode_reward_mean") is not None
    assert run.failure is None
    metadata = json.loads((run.model_dir / "metadata.json").read_text())
    assert metadata["env"] == f"sagemaker_rl/{env_name}" and metadata["serving"]["onnx"] == "policy.onnx"
    checkpoint = INSTALLED.backend_for_model(metadata).load_actor(run.model_dir, metadata)
    served = OnnxPolicy(run.model_dir)
    dim = metadata["observation_space"]["shape"][0]
    for observation in np.random.default_rng(7).standard_normal((8, dim)).astype(np.float32):
        action = served.predict(observation[None])["actions"][0]
        np.testing.assert_allclose(action, checkpoint(observation), rtol=1e-4, atol=1e-4)
    return metadata


def assert_evaluated(run: JobResult, episodes: int) -> None:
    assert run.returncode == 0, run.output[-4000:]
    assert run.output.count("Episode reward: ") == episodes and run.output.count("Testing> ") == episodes
    assert run.last("episode_reward_mean") is not None
    assert (run.intermediate_dir / "evaluation.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["reacher", "hopper"])
def test_the_roboschool_scripts_train_film_export_and_evaluate_unchanged(rlrt_job: RlrtJobs, problem: str) -> None:
    run = rlrt_job.script(SMRL, f"train-{problem}.py", {**ROBOSCHOOL_NOTEBOOK, **SMALL_BATCHES})
    env_name = f"Roboschool{problem.capitalize()}-v1"
    assert_trained_and_servable(run, env_name)
    # `"monitor": True` in the script: rollout videos of the robot (PyBullet renders rgb_array frames).
    videos = run.videos()
    assert videos and all(count_frames(video) > 1 for video in videos), run.output[-3000:]
    assert "cannot render" not in run.output
    # The notebook's evaluation cell: evaluate-ray.py with the model channel and its three hyperparameters.
    evaluation = rlrt_job.evaluate(
        run.model_dir,
        "evaluate-ray.py",
        REPO_ROOT / "entrypoints",
        {"evaluate_episodes": 5, "algorithm": "PPO", "env": env_name},
    )
    assert_evaluated(evaluation, 5)


@pytest.mark.slow
def test_the_unity_script_trains_on_the_game_in_the_train_channel_and_its_model_plays(
    rlrt_job: RlrtJobs, tmp_path: Path
) -> None:
    game = tmp_path / "game"
    make_player(game, "basic_env_linux")
    run = rlrt_job.script(
        SMRL,
        "train-unity.py",
        {**UNITY_NOTEBOOK, "rl.training.stop.training_iteration": 2},
        channels={"train": game},
        timeout=400,
    )
    # RLlib 1.x ignored free_log_std on discrete actions; rlrt does too, with one line (RLlib 2.x's runners die).
    assert run.output.count("model.free_log_std applies to continuous (Box) actions") == 1, run.output[-4000:]
    assert_trained_and_servable(run, "unity_env")
    assert run.last("timesteps_total") == 1000
    assert not running_players(run.base, wait_s=5), "the script's game processes outlived the job"
    # A game run without graphics has no frames: one line says so, no video.
    assert "cannot render video frames" in run.output and not run.videos()
    # The notebook's evaluation cell, with the custom executable in the train channel.
    evaluation = rlrt_job.evaluate(
        run.model_dir,
        "evaluate-unity.py",
        REPO_ROOT / "entrypoints",
        {"evaluate_episodes": 5, "algorithm": "PPO", "env": "Basic"},
        channels={"train": game},
    )
    assert_evaluated(evaluation, 5)
    assert not running_players(evaluation.base, wait_s=5)
