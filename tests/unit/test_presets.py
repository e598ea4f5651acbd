"""Presets: every shipped file parses, names a real environment and a configuration RLlib accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.registry import canonical_env_id
from runtime.backends.rllib.algorithm import build_algorithm_config
from runtime.config import hyperparameters as hp
from runtime.config.presets import DEFAULT_PRESET, all_presets, load_preset, load_preset_file
from runtime.errors import UserError
from runtime.plugins import INSTALLED

_validator = INSTALLED.validator_for

PRESETS = all_presets()


def test_the_shipped_presets() -> None:
    assert {"cartpole-ppo", "reacher-ppo", "hopper-ppo", "humanoid-ppo"} <= set(PRESETS)
    assert DEFAULT_PRESET == "cartpole-ppo"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_is_complete_and_buildable(name: str) -> None:
    preset = PRESETS[name]
    # DeepRacer's bar is lap completion in evaluation; every other preset's is the mean episode return.
    assert preset.pass_bar.metric in {"episode_reward_mean", "completion_percentage"} and preset.pass_bar.source
    assert preset.description
    canonical_env_id(preset.env)
    if preset.algorithm.upper() in {"PPO", "APPO", "IMPALA", "SAC", "DQN"}:
        spec = hp.resolve({"preset": name}, _validator, num_cpus=2)
        config = build_algorithm_config(spec, "CartPole-v1")
        assert config.env == "CartPole-v1"


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("RoboschoolReacher-v1", "reacher-ppo"),
        ("hopper", "hopper-ppo"),
        ("Humanoid", "humanoid-ppo"),
        ("CARTPOLE-PPO", "cartpole-ppo"),
    ],
)
def test_aliases(alias: str, name: str) -> None:
    assert load_preset(alias).name == name


def test_pass_bars_follow_the_seeds() -> None:
    assert PRESETS["reacher-ppo"].pass_bar.value == 18
    assert PRESETS["hopper-ppo"].pass_bar.value == 2500
    assert PRESETS["humanoid-ppo"].pass_bar.value == 3500


def test_a_preset_can_be_a_user_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nenv: CartPole-v1\nalgorithm: PPO\nconfig: {lr: 0.01}\nstop: {training_iteration: 2}\n"
        "pass_bar: {metric: episode_reward_mean, value: 100}\n"
    )
    spec = hp.resolve({"preset": str(path)}, _validator, num_cpus=2)
    assert spec.preset == "mine" and spec.config["lr"] == 0.01


def test_a_users_preset_needs_no_name_and_no_pass_bar(tmp_path: Path) -> None:
    """As RL Zoo's hyperparameter files: the file's name names it, and a pass bar is the shipped presets' promise."""
    path = tmp_path / "my-cartpole.yml"
    path.write_text("env: CartPole-v1\nalgorithm: PPO\nconfig: {lr: 0.01}\nstop: {training_iteration: 2}\n")
    preset = load_preset(str(path))
    assert (preset.name, preset.pass_bar) == ("my-cartpole", None)
    assert hp.resolve({"preset": str(path)}, _validator, num_cpus=2).preset == "my-cartpole"


def test_a_presets_serving_is_kept_with_the_resolved_config(tmp_path: Path) -> None:
    """``serving: coach`` (a Coach preset's: its model answers as Coach's serving did) reaches ``config.json``."""
    path = tmp_path / "coach.yml"
    path.write_text("env: CartPole-v1\nalgorithm: PPO\nstop: {training_iteration: 2}\nserving: coach\n")
    assert hp.resolve({"preset": str(path)}, _validator, num_cpus=2).extras["serving"] == "coach"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "must hold a YAML mapping"),
        ("name: x\nenv: CartPole-v1\n", "lacks the key(s): algorithm, stop"),
        ("name: x\nenv: E\nalgorithm: PPO\nstop: {}\npass_bar: 3\n", "pass_bar needs"),
        (
            "name: x\nenv: E\nalgorithm: PPO\nconfig: [1]\nstop: {}\npass_bar: {metric: m, value: 1}\n",
            "'config' must be a mapping",
        ),
        ("name: [unclosed\n", "Cannot read preset file"),
        ("name: x\nenv: E\nalgorithm: PPO\nstop: {}\nserving: mxnet\n", "'serving' must be one of rlrt, coach"),
    ],
)
def test_bad_preset_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=None) as info:
        load_preset_file(path)
    assert message in str(info.value)


def test_unknown_preset_names_the_closest() -> None:
    with pytest.raises(UserError, match="Did you mean 'reacher-ppo'"):
        load_preset("reacher-pp")
    with pytest.raises(UserError, match="Did you mean 'cartpole-ppo'"):
        load_preset("cartpole-pp")


@pytest.mark.parametrize("name", ["preset-x", "preset-acrobot-dqn", "src/preset-x"])
def test_an_unknown_preset_far_from_every_name_gets_no_suggestion(name: str) -> None:
    """ "Did you mean" names only a near spelling (at difflib's 0.5, preset-x was offered preset-deepracer)."""
    with pytest.raises(UserError, match=None) as info:
        load_preset(name)
    assert f"Unknown preset '{name}'. Available presets: " in str(info.value)


def test_a_python_file_is_named_as_a_coach_preset() -> None:
    with pytest.raises(
        UserError,
        match=r"Preset 'src/preset-x.py' is a Python file: a Coach preset .*"
        r"`rlrt train --preset src/preset-x.py`",
    ):
        load_preset("src/preset-x.py")


def test_the_spec_carries_the_pass_bar_of_its_own_preset_only() -> None:
    assert hp.resolve({"preset": "cartpole-ppo"}, _validator, num_cpus=2).pass_bar == ("episode_reward_mean", 475.0)
    other = hp.resolve({"preset": "cartpole-ppo", "rl.training.env": "Acrobot-v1"}, _validator, num_cpus=2)
    assert other.pass_bar is None  # another environment: the preset's bar says nothing about it
