"""PPO settings chosen from an environment's spaces when no tuned preset gives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from runtime.config import hyperparameters as hp
from runtime.config import space_defaults as sd
from runtime.config.presets import DEFAULT_PRESET, load_preset
from runtime.config.spec import TrainingSpec
from runtime.job.tree import tree_name
from runtime.plugins import INSTALLED
from runtime.job.plan import plan_job

_validator = INSTALLED.validator_for


def resolve(hps: dict) -> TrainingSpec:
    return hp.resolve(hps, _validator, num_cpus=2)


def test_the_row_follows_the_action_and_observation_spaces() -> None:
    box = gymnasium.spaces.Box(-1, 1, (6,), np.float32)
    pixels = gymnasium.spaces.Box(0, 255, (84, 84, 3), np.uint8)
    assert sd.spaces_of(box, gymnasium.spaces.Discrete(3)) == sd.Spaces(discrete=True, image=False)
    assert sd.spaces_of(box, gymnasium.spaces.MultiDiscrete([2, 3])).discrete
    assert sd.spaces_of(box, gymnasium.spaces.Box(-2, 2, (1,))) == sd.Spaces(discrete=False, image=False)
    assert sd.spaces_of(pixels, gymnasium.spaces.Discrete(4)).image
    discrete = sd.ppo_defaults(sd.Spaces(discrete=True, image=False))
    assert (
        discrete["num_envs_per_env_runner"],
        discrete["train_batch_size_per_learner"],
        discrete["num_epochs"],
        discrete["minibatch_size"],
        discrete["lambda"],
    ) == (16, 4096, 4, 64, 0.94)  # RL Zoo's Acrobot-v1
    assert discrete["observation_filter"] == "MeanStdFilter" and "log_std_init" not in discrete["model_config"]
    continuous = sd.ppo_defaults(sd.Spaces(discrete=False, image=False))
    assert continuous["train_batch_size_per_learner"] == 2048 and continuous["num_epochs"] == 10
    assert continuous["model_config"]["log_std_init"] == 0.0 and continuous["observation_filter"] == "MeanStdFilter"
    image = sd.ppo_defaults(sd.Spaces(discrete=False, image=True))
    assert "observation_filter" not in image and "model_config" not in image  # RLlib's conv encoder, raw pixels
    assert (image["clip_param"], image["entropy_coeff"], image["train_batch_size_per_learner"]) == (0.1, 0.01, 1024)


def test_discrete_actions_skip_rllibs_action_normalisation_which_leaves_them_as_they_are() -> None:
    from ray.rllib.utils.spaces.space_utils import unsquash_action  # heavy: RLlib

    assert sd.ppo_defaults(sd.Spaces(discrete=True, image=False))["normalize_actions"] is False
    assert "normalize_actions" not in sd.ppo_defaults(sd.Spaces(discrete=False, image=False))
    assert "normalize_actions" not in sd.ppo_defaults(sd.Spaces(discrete=False, image=True))  # actions of any kind
    assert load_preset("cartpole-ppo").config["normalize_actions"] is False
    # What normalising would have done to them: nothing (it unsquashes Box actions only).
    for space, action in (
        (gymnasium.spaces.Discrete(3, start=-1), np.int64(1)),
        (gymnasium.spaces.MultiDiscrete([2, 5]), np.array([1, 4])),
    ):
        assert np.array_equal(unsquash_action(action, space), action)
    assert not np.array_equal(unsquash_action(np.array([0.5]), gymnasium.spaces.Box(0, 10, (1,))), np.array([0.5]))


def test_an_env_without_a_preset_gets_the_table_and_the_users_values_win(capsys: pytest.CaptureFixture) -> None:
    spec = resolve(
        {hp.ENV: "Acrobot-v1", "rl.training.config.num_epochs": 7, "rl.training.config.model.fcnet_hiddens": [32]}
    )
    config = spec.config
    assert config["num_envs_per_env_runner"] == 16 and config["train_batch_size_per_learner"] == 4096
    assert config["num_epochs"] == 7 and config["model_config"]["fcnet_hiddens"] == [32]
    assert config["model_config"]["fcnet_activation"] == "tanh"
    assert "lr" in config and config["lr"] == 3e-4  # not CartPole's schedule: that preset is for another env
    assert spec.to_dict()["config"]["num_envs_per_env_runner"] == 16  # saved beside the model
    line = [x for x in capsys.readouterr().err.splitlines() if "PPO settings from Acrobot-v1's spaces" in x]
    assert len(line) == 1 and "num_envs_per_env_runner=16" in line[0] and "num_epochs" not in line[0]
    pendulum = resolve({hp.ENV: "Pendulum-v1"}).config
    assert pendulum["model_config"]["log_std_init"] == 0.0 and pendulum["num_envs_per_env_runner"] == 8


def test_a_user_preset_file_keeps_its_settings_and_gets_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("env: Acrobot-v1\nalgorithm: PPO\nconfig:\n  gamma: 0.9\nstop:\n  training_iteration: 2\n")
    config = resolve({"preset": str(path)}).config
    assert config["gamma"] == 0.9 and config["num_epochs"] == 4 and config["minibatch_size"] == 64


def test_tuned_presets_other_algorithms_and_unknown_envs_are_left_alone() -> None:
    assert resolve({}).config["num_envs_per_env_runner"] == 32  # CartPole's own preset
    named = resolve({"preset": "cartpole-ppo", hp.ENV: "Acrobot-v1"}).config
    assert named["num_envs_per_env_runner"] == 32  # a preset asked for by name is used as it is
    assert resolve({"preset": "hopper-ppo"}).config["train_batch_size_per_learner"] == 8000
    dqn = resolve({hp.ENV: "Acrobot-v1", hp.RUN: "DQN"})  # DQN's own row, nothing of CartPole-PPO's
    assert dqn.preset == "space-defaults/DQN-discrete" and dqn.config["num_envs_per_env_runner"] == 1
    assert resolve({hp.ENV: "NoSuchEnv-v9"}).config.get("num_envs_per_env_runner") == 32


def test_an_env_with_a_shipped_preset_trains_with_it_when_no_preset_is_named(capsys: pytest.CaptureFixture) -> None:
    """RL Zoo's `--algo ppo --env ID` takes that env's tuned section: `rlrt train --env HopperBulletEnv-v0` (or the
    seed's Roboschool name) trains with hopper-ppo's settings and stop, not the spaces' table or CartPole's stop."""
    hopper = load_preset("hopper-ppo")
    for env in ("HopperBulletEnv-v0", "RoboschoolHopper-v1"):
        spec = resolve({hp.ENV: env})
        assert spec.preset == "hopper-ppo", env
        assert spec.config["train_batch_size_per_learner"] == hopper.config["train_batch_size_per_learner"]
        assert spec.stop["episode_reward_mean"] == hopper.stop["episode_reward_mean"] == 2500
    assert "shipped preset hopper-ppo" in capsys.readouterr().err
    assert resolve({"rl.training.config.env": "HopperBulletEnv-v0"}).preset == "hopper-ppo"  # RLlib's key, as the tree
    assert _tree_hint({"rl.training.config.env": "HopperBulletEnv-v0"}, DEFAULT_PRESET) == "hopper-ppo"
    assert resolve({hp.ENV: "Pendulum-v1"}).algorithm == "PPO"  # pendulum-bcq is BCQ: the default algorithm is PPO
    assert resolve({hp.ENV: "Pendulum-v1", hp.RUN: "BCQ"}).preset == "pendulum-bcq"
    # None tuned for SAC: SAC's row of the table, not the default preset's PPO settings.
    assert resolve({hp.ENV: "HopperBulletEnv-v0", hp.RUN: "SAC"}).preset == "space-defaults/SAC-continuous"
    assert resolve({"preset": "cartpole-ppo", hp.ENV: "HopperBulletEnv-v0"}).preset == "cartpole-ppo"  # named: kept
    # An entry point's own default (train-reacher.py's) is what the user chose: never swapped.
    assert hp.resolve({hp.ENV: "HopperBulletEnv-v0"}, _validator, default_preset="reacher-ppo").preset == "reacher-ppo"


def _tree_hint(given: dict[str, Any], default_preset: str) -> str:
    """What a new tree of a job given ``given`` on its command line is named after (its plan's)."""
    return plan_job(given, INSTALLED, default_preset).tree_hint


def test_the_tree_of_a_job_on_a_shipped_presets_env_is_named_after_that_preset() -> None:
    assert _tree_hint({hp.ENV: "RoboschoolHopper-v1"}, DEFAULT_PRESET) == "hopper-ppo"
    assert _tree_hint({hp.ENV: "Pendulum-v1"}, DEFAULT_PRESET) == "Pendulum-PPO"
    assert _tree_hint({hp.ENV: "Pendulum-v1", hp.RUN: "bcq"}, DEFAULT_PRESET) == "pendulum-bcq"


def test_the_tree_of_a_job_given_a_seed_names_the_seed() -> None:
    """Seeds started together are told apart by their trees' names (RL Zoo's ``<env>_<n>`` folders)."""
    assert _tree_hint({hp.SEED: 3}, DEFAULT_PRESET) == "cartpole-ppo-s3"
    assert _tree_hint({hp.SEED: 0, hp.ENV: "Acrobot-v1", hp.RUN: "DQN"}, DEFAULT_PRESET) == "acrobot-dqn-s0"
    assert _tree_hint({hp.SEED: 7, "preset": "hopper-ppo"}, DEFAULT_PRESET) == "hopper-ppo-s7"
    assert tree_name(_tree_hint({hp.SEED: 7, "preset": "my/cartpole.yml"}, DEFAULT_PRESET)) == "cartpole-s7"
    # No seed, or one the job will refuse (it says so itself): the name is the configuration's alone.
    assert _tree_hint({}, DEFAULT_PRESET) == _tree_hint({hp.SEED: "x"}, DEFAULT_PRESET) == "cartpole-ppo"


def test_a_setting_of_another_kind_where_a_default_is_a_table_is_named_not_a_crash() -> None:
    """DQN's defaults fill ``replay_buffer_config`` key by key; a user's 1 there (found by the quick/full check
    property test) crashed the filling with a TypeError, a framework error: it now reaches the setting's check."""
    from runtime.errors import UserError

    with pytest.raises(UserError, match="'rl.training.config.replay_buffer_config' must be a JSON object, got 1"):
        hp.resolve({"rl.training.run": "DQN", "rl.training.config.replay_buffer_config": 1}, INSTALLED.validator_for)
