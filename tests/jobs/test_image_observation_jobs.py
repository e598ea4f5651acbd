"""An environment whose observations are uint8 camera frames trains (RLlib's CNN takes float32: rlrt divides the
frames by 255 on their way to the model, as RLlib's image examples do) and its exports take the raw frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.conftest import run_rlrt


def test_uint8_frames_train_and_the_exports_take_raw_frames(tmp_path: Path) -> None:
    job = tmp_path / "job"
    run = run_rlrt(
        [
            "train",
            "--env",
            "tests.image_envs:Frames-v0",
            "--base-dir",
            str(job),
            "--set",
            "rl.training.stop.training_iteration=1",
            "--set",
            "record_video_every=0",
            "--set",
            "rl.training.config.num_env_runners=0",
            "--set",
            "rl.training.config.num_envs_per_env_runner=1",
            "--set",
            "rl.training.config.train_batch_size_per_learner=64",
            "--set",
            "rl.training.config.minibatch_size=64",
            "--set",
            "rl.training.config.num_epochs=1",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Framework error" not in output
    metadata = json.loads((job / "model" / "metadata.json").read_text())
    space = metadata["observation_space"]
    assert space["dtype"] == "uint8" and space["shape"] == [10, 10, 3] and max(space["high"]) == 255
    assert metadata["serving"]["observation_filter"] == "integer observations / 255 (baked in: takes raw observations)"

    import torch  # heavy: torch, for the exported policy and the trained module
    from ray.rllib.core.rl_module.rl_module import RLModule  # heavy: RLlib

    frames = np.random.default_rng(0).integers(0, 256, (5, 10, 10, 3), dtype=np.uint8)
    served = torch.jit.load(str(job / "model" / "policy.pt"))
    _, probabilities = served(torch.as_tensor(frames.reshape(5, -1), dtype=torch.float32))
    module = RLModule.from_checkpoint(
        str(job / "model" / "checkpoint" / "learner_group" / "learner" / "rl_module" / "default_policy")
    )
    with torch.no_grad():
        logits = module.forward_inference({"obs": torch.as_tensor(frames, dtype=torch.float32) / 255.0})
    expected = torch.softmax(logits["action_dist_inputs"], dim=-1)
    assert torch.allclose(probabilities, expected, atol=1e-5)


def test_frames_of_a_size_rllib_has_no_network_for_name_the_setting(tmp_path: Path) -> None:
    """RLlib's catalog refuses 16x16 images with a ValueError (a "Framework error" before): the shape and the setting
    that gives the network, before anything trains."""
    job = tmp_path / "job"
    run = run_rlrt(
        [
            "train",
            "--env",
            "tests.image_envs:Frames-v0",
            "--base-dir",
            str(job),
            "--set",
            "rl.training.config.env_config.shape=[16,16,3]",
            "--set",
            "rl.training.config.num_env_runners=0",
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    failure = (job / "output" / "failure").read_text()
    assert "observations are images of shape [16, 16, 3], for which RLlib has no default convolutional" in failure
    assert "rl.training.config.model_config.conv_filters" in failure and "Framework error" not in run.stderr
