"""Training on Unity games end to end (``rlrt`` as a real process, RLlib env runners launching the stand-in player
from the job's ``train`` channel), and the job-level errors for a game that cannot be found."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import make_job_tree, run_rlrt
from tests.quiet_logs import unexpected_lines
from unity_player.build import make_player
from tests.unit.test_unity_training import TRAIN_UNITY, free_base_port


def tiny(**extra: object) -> dict[str, object]:
    """Hyperparameters for a few-hundred-step run on the stand-in player."""
    return {
        "rl.training.config.env_config.base_port": free_base_port(),
        "rl.training.config.train_batch_size_per_learner": 200,
        "rl.training.config.minibatch_size": 100,
        "rl.training.config.num_epochs": 2,
        "rl.training.config.num_envs_per_env_runner": 1,
        **extra,
    }


@pytest.mark.slow
def test_player_uploaded_to_the_train_channel(tmp_path: Path) -> None:
    """The seed's custom-executable flow: the player file in the train channel, named by env_config env_name.

    The player also dies mid-episode once (after 100 steps): the env runner logs a clear error naming the player's
    log, RLlib re-creates the environment (a new player on the same port) and training goes on.
    """
    tree = make_job_tree(
        tmp_path / "ml",
        tiny(
            **{
                "rl.training.config.env_config.env_name": "basic_env_linux.x86_64",
                # mlagents checks the player every timeout_wait / 10 s
                "rl.training.config.env_config.timeout_wait": 10,
                "rl.training.stop.training_iteration": 2,
            }
        ),
    )
    marker = tmp_path / "crashed-once"
    crash_once = ["--crash-after-steps", "100", "--crash-once", str(marker)]
    make_player(tree.channel("train"), "basic_env_linux", crash_once, executable=False)  # S3 loses the mode bits
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "training PPO on Unity (preset unity-basic-ppo)" in result.stdout
    assert result.stdout.count("timesteps_total: ") == 2 and "episode_reward_mean: " in result.stdout
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["observation_space"]["shape"] == [20]
    assert metadata["action_space"] == {"type": "Discrete", "n": 3, "start": 0}
    assert (tree.model / "checkpoint").is_dir() and not tree.failure.exists()
    # The policy for the game itself: ML-Agents' ONNX, named by the game's behavior ("Basic?team=0"), checked.
    assert metadata["unity_behaviors"] == ["Basic?team=0"]
    assert metadata["serving"]["mlagents"] == ["mlagents/Basic.onnx"] and (tree.model / "mlagents/Basic.onnx").is_file()
    assert "mlagents/Basic.onnx (ML-Agents ONNX for Unity)" in result.stdout
    # Env runner 1's player: worker id 16, its log in output/intermediate.
    log = (tree.intermediate / "unity-16.log").read_text()
    # At the end the env runner closes its game ("the trainer closed the connection"); on a loaded machine Ray may
    # stop the runner before its close reaches the player, which then quits on the lost connection by itself.
    assert "port" in log and ("the trainer closed the connection" in log or "lost the connection to the trainer" in log)
    # The crash mid-episode, and the replacement player.
    assert marker.exists() and "simulated crash after 100 steps" in log and log.count("connected:") == 2
    crash = "The Unity player failed during step (UnityEnvironmentException: Environment shut down with return code 3"
    assert crash in result.stdout + result.stderr and "unity-16.log" in result.stdout + result.stderr


@pytest.mark.slow
def test_multi_agent_game(tmp_path: Path) -> None:
    """The multi-agent preset: one policy per behavior, agents '<behavior>_<id>', on the 3DBall-like stand-in."""
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "preset": "unity-3dball-ppo",
            **tiny(
                **{"rl.training.stop.training_iteration": 1, "rl.training.config.train_batch_size_per_learner": 300}
            ),
        },
    )
    ball = ["--game", "ball", "--agents", "3", "--max-step", "50"]
    make_player(tree.channel("train") / "3DBall_linux", "3DBall", ball)
    result = run_rlrt(["train"], base=tree.base, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "training PPO on UnityMultiAgent" in result.stdout and "episode_reward_mean: " in result.stdout
    assert unexpected_lines(result.stdout + result.stderr) == []  # ML-Agents' lines once, Ray's C++ notice left out
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["observation_space"] == {
        "type": "Dict",
        "spaces": {
            "3DBall_team=0": {"type": "Box", "shape": [8], "dtype": "float32", "low": ["-inf"] * 8, "high": ["inf"] * 8}
        },
    }
    assert metadata["action_space"]["spaces"]["3DBall_team=0"]["shape"] == [2]
    assert (tree.model / "checkpoint").is_dir()
    # One export per policy (policies/<policy id>/); a model with one policy serves it without being told which.
    policy = metadata["serving"]["policies"]["3DBall_team=0"]
    assert policy["onnx"] == "policies/3DBall_team=0/policy.onnx" and (tree.model / policy["onnx"]).is_file()
    assert_served_like_the_checkpoint(tree.model, "3DBall_team=0", 8)
    # One ML-Agents file per behavior, side by side; `rlrt export --check` applies ML-Agents' loader rules to it.
    assert policy["mlagents"] == ["mlagents/3DBall.onnx"]
    assert sorted(p.name for p in (tree.model / "mlagents").iterdir()) == ["3DBall.onnx"]
    check = run_rlrt(["export", "--model-dir", str(tree.model), "--check"], base=tree.base, timeout=120)
    assert check.returncode == 0 and "mlagents/3DBall.onnx passes ML-Agents' loader rules" in check.stdout, check.stderr


def assert_served_like_the_checkpoint(model: Path, policy_id: str, observation_dim: int) -> None:
    """The served (ONNX) continuous action is the checkpoint's RLModule mean, clipped to the bounds (RLlib's
    greedy action)."""
    import numpy as np
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    from runtime.serving.model_store import OnnxPolicy

    module = RLModule.from_checkpoint(
        str(model.joinpath("checkpoint", "learner_group", "learner", "rl_module", policy_id))
    )
    observations = np.random.default_rng(0).normal(size=(16, observation_dim)).astype(np.float32)
    with torch.no_grad():
        inputs = module.forward_inference({"obs": torch.as_tensor(observations)})["action_dist_inputs"].numpy()
    space = module.action_space
    mean = inputs[:, : space.shape[0]]
    expected = np.clip(space.low + (mean + 1.0) * (space.high - space.low) / 2.0, space.low, space.high)
    np.testing.assert_allclose(OnnxPolicy(model).predict(observations)["actions"], expected, atol=1e-5)


def test_registry_id_without_internet_fails_clearly(tmp_path: Path) -> None:
    """No train channel, no local manifest, nothing cached and no internet: exit 2 and a failure file saying how."""
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "rl.training.config.env_config.env_name": "Basic",
            "rl.training.config.env_config.registry_url": "http://127.0.0.1:9/manifest.yaml",
            "rl.training.config.env_config.cache_dir": str(tmp_path / "empty-cache"),
        },
    )
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    failure = tree.failure.read_text()
    assert failure.startswith("Cannot find the Unity game 'Basic'")
    assert "could not be read" in failure and "'train' channel" in failure and "registry_manifest" in failure
    assert "Traceback" not in result.stderr


def test_missing_player_in_train_channel(tmp_path: Path) -> None:
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "rl.training.config.env_config.env_name": "mygame.x86_64",
            "rl.training.config.env_config.download": False,
        },
    )
    make_player(tree.channel("train"), "other_game")
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=120)
    assert result.returncode == 2
    failure = tree.failure.read_text()
    assert "the train channel" in failure and "has no 'mygame.x86_64' (players there: other_game.x86_64)" in failure
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_game_with_continuous_and_discrete_actions(tmp_path: Path) -> None:
    """ML-Agents' hybrid actions (two continuous, branches of 3 and 2): training, the served row (continuous actions,
    then each branch's greedy action) equal to RLlib's own deterministic action of the checkpoint's module, the
    ML-Agents file with both kinds of outputs passing `rlrt export --check`, and `rlrt evaluate` playing the game with
    the model, its returns those the game itself counted."""
    import numpy as np
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    from runtime.serving.model_store import OnnxPolicy

    hybrid = ["--continuous", "2", "--branches", "3,2"]
    tree = make_job_tree(tmp_path / "ml", tiny(**{"rl.training.stop.training_iteration": 1}))
    make_player(tree.channel("train"), "Basic", hybrid)
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "mlagents/Basic.onnx (ML-Agents ONNX for Unity)" in result.stdout
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["action_space"]["type"] == "Tuple"
    head = metadata["serving"]["head"]
    assert (head["kind"], head["size"], head["parts"]) == ("hybrid", 2, [3, 2])

    module = RLModule.from_checkpoint(
        str(tree.model.joinpath("checkpoint", "learner_group", "learner", "rl_module", "default_policy"))
    )
    observations = np.eye(20, dtype=np.float32)  # the game's one-hot positions
    with torch.no_grad():
        inputs = module.forward_inference({"obs": torch.as_tensor(observations)})["action_dist_inputs"]
        continuous, discrete = module.get_inference_action_dist_cls().from_logits(inputs).to_deterministic().sample()
    served = OnnxPolicy(tree.model).predict(observations)["actions"]
    np.testing.assert_allclose(served[:, :2], np.clip(continuous.numpy(), -1.0, 1.0), atol=1e-5)
    np.testing.assert_array_equal(served[:, 2:], discrete.numpy())

    check = run_rlrt(["export", "--model-dir", str(tree.model), "--check"], base=tree.base, timeout=120)
    assert check.returncode == 0 and "mlagents/Basic.onnx passes ML-Agents' loader rules" in check.stdout, check.stderr

    record = tmp_path / "episodes.jsonl"
    evaluation = make_job_tree(
        tmp_path / "evaluate",
        {"evaluate_episodes": 2, "env": "Basic", "rl.training.config.env_config.base_port": free_base_port()},
    )
    make_player(evaluation.channel("train"), "Basic", [*hybrid, "--record", str(record)])
    played = run_rlrt(["evaluate", "--model", str(tree.model)], base=evaluation.base, timeout=240)
    assert played.returncode == 0, played.stdout[-3000:] + played.stderr[-3000:]
    reported = [float(r) for r in re.findall(r"^Episode reward: (\S+)\.", played.stdout, re.M)]
    counted = [json.loads(line)["r"] for line in record.read_text().splitlines()]
    assert len(reported) == 2 and reported == pytest.approx(counted[:2], abs=1e-4)


@pytest.mark.slow
def test_a_camera_only_game(tmp_path: Path) -> None:
    """A game whose one sensor is a camera (8x20 RGB): RLlib has no network of its own for that size, so the job
    names the setting (RLlib's own report of its env runners' errors in a file); with conv_filters it trains
    a convolutional policy whose served action is the checkpoint's own, and whose ML-Agents file takes the camera
    channel-first and passes `rlrt export --check`."""
    import numpy as np
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    from runtime.serving.model_store import OnnxPolicy

    camera = ["--observations", "visual"]
    refused = make_job_tree(tmp_path / "refused", tiny(**{"rl.training.stop.training_iteration": 1}))
    make_player(refused.channel("train"), "Basic", camera)
    result = run_rlrt(TRAIN_UNITY, base=refused.base, timeout=240)
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "images of shape [8, 20, 3]" in refused.failure.read_text()
    assert "rl.training.config.model_config.conv_filters" in refused.failure.read_text()
    assert "env-runner-errors.log" in refused.failure.read_text()
    assert "No default CNN configuration" in (refused.intermediate / "env-runner-errors.log").read_text()
    # RLlib's own lines in the driver are held back; what the env runner process itself prints as it dies reaches
    # the log only when Ray forwards it before the job ends (not checked: it races the shutdown).
    output = result.stdout + result.stderr
    assert "taking actor" not in output and "Validation of EnvRunner failed" not in output, output[-3000:]

    tree = make_job_tree(
        tmp_path / "ml",
        tiny(
            **{
                "rl.training.stop.training_iteration": 1,
                "rl.training.config.model_config": {"conv_filters": [[16, [4, 4], 2], [32, [4, 4], 2]]},
            }
        ),
    )
    make_player(tree.channel("train"), "Basic", camera)
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["observation_space"]["shape"] == [8, 20, 3]
    module = RLModule.from_checkpoint(
        str(tree.model.joinpath("checkpoint", "learner_group", "learner", "rl_module", "default_policy"))
    )
    frames = np.random.default_rng(0).uniform(0.0, 1.0, (6, 8, 20, 3)).astype(np.float32)
    with torch.no_grad():
        logits = module.forward_inference({"obs": torch.as_tensor(frames)})["action_dist_inputs"].numpy()
    np.testing.assert_array_equal(
        OnnxPolicy(tree.model).predict(frames.reshape(6, -1))["actions"], logits.argmax(axis=1)
    )
    check = run_rlrt(["export", "--model-dir", str(tree.model), "--check"], base=tree.base, timeout=120)
    assert check.returncode == 0 and "mlagents/Basic.onnx passes ML-Agents' loader rules" in check.stdout, check.stderr
    from runtime.export.mlagents_check import read_signature

    assert read_signature(tree.model / "mlagents" / "Basic.onnx")["inputs"][0]["shape"] == [None, 3, 8, 20]
