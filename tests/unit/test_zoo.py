"""RL Baselines3 Zoo hyperparameter files as rlrt presets (runtime.config.zoo): the Zoo's own sections
(tests/data/zoo/, copied from DLR-RM/rl-baselines3-zoo's hyperparams/) translated setting by setting against values
worked out here from SB3's meaning, the file's other settings named, and any file a user can write either read or
refused with a UserError (Hypothesis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.config import hyperparameters as hp
from runtime.config.presets import load_preset
from runtime.config.zoo import ZooPreset, is_zoo_file, zoo_preset, zoo_settings
from runtime.errors import UserError
from runtime.plugins import INSTALLED

ZOO = Path(__file__).resolve().parents[1] / "data" / "zoo"


def section(name: str, env: str) -> ZooPreset:
    path = ZOO / name
    return zoo_preset(yaml.safe_load(path.read_text()), path, env)


def test_the_zoo_cartpole_ppo_section_is_sb3s_ppo_in_rllibs_names() -> None:
    zoo = section("ppo.yml", "CartPole-v1")
    config = zoo.data["config"]
    assert (zoo.data["name"], zoo.data["env"], zoo.data["algorithm"]) == ("ppo-CartPole-v1", "CartPole-v1", "PPO")
    assert zoo.data["stop"] == {"timesteps_total": 100_000}
    # 8 envs x 32 steps per update, minibatches of 256, 20 epochs; lin_0.001 decays to 0 over the 1e5 steps.
    assert config["num_envs_per_env_runner"] == 8 and config["train_batch_size_per_learner"] == 256
    assert (config["minibatch_size"], config["num_epochs"]) == (256, 20)
    assert config["lr"] == [[0, 0.001], [100_000, 0.0]]
    assert (config["gamma"], config["lambda"], config["entropy_coeff"]) == (0.98, 0.8, 0.0)
    # SB3's defaults where the section says nothing: clip 0.2, vf_coef 0.5, max_grad_norm 0.5, 64x64 tanh.
    assert (config["clip_param"], config["vf_loss_coeff"], config["grad_clip"]) == (0.2, 0.5, 0.5)
    assert config["model_config"] == {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "vf_share_layers": False}
    assert config["use_kl_loss"] is False and "observation_filter" not in config and "normalize_rewards" not in config
    assert zoo.notes == (
        "rlrt: RL Zoo ppo.yml, CartPole-v1: clip_range='lin_0.2': RLlib's PPO keeps clip_param at 0.2",
    )


def test_a_pybullet_section_through_yaml_anchors_with_policy_kwargs_and_normalize() -> None:
    zoo = section("ppo.yml", "HopperBulletEnv-v0")
    config = zoo.data["config"]
    assert config["lr"] == 3e-5 and config["clip_param"] == 0.4 and config["train_batch_size_per_learner"] == 8192
    assert config["model_config"] == {
        "fcnet_hiddens": [256, 256],
        "fcnet_activation": "relu",
        "vf_share_layers": False,
        "log_std_init": -2.0,
    }
    # normalize: true is SB3's VecNormalize of observations and rewards: both are normalised, nothing left to say.
    assert config["observation_filter"] == "MeanStdFilter" and config["normalize_rewards"] is True
    notes = "\n".join(zoo.notes)
    for said in (
        "use_sde=True not translated",
        "sde_sample_freq=4 not translated",
        "clip_range='lin_0.4'",
    ):
        assert said in notes
    assert "normali" not in notes
    assert "ortho_init" not in notes  # ortho_init=False: what RLlib does anyway


def test_dqn_and_sac_sections() -> None:
    dqn = section("dqn.yml", "CartPole-v1").data["config"]
    assert (dqn["lr"], dqn["train_batch_size_per_learner"], dqn["gamma"]) == (2.5e-4, 512, 0.99)
    # 4 batches of 512 every 16 steps of one env: 128 trained transitions per sampled one.
    assert dqn["training_intensity"] == 512 * 4 / 16
    assert dqn["replay_buffer_config"] == {"type": "EpisodeReplayBuffer", "capacity": 100_000}
    assert dqn["epsilon"] == [[0, 1.0], [12_000, 0.11]]  # 6 % of 2e5 steps
    assert (dqn["target_network_update_freq"], dqn["double_q"], dqn["dueling"], dqn["tau"]) == (5000, False, False, 1.0)
    assert dqn["num_steps_sampled_before_learning_starts"] == 0 and dqn["grad_clip"] == 10.0
    lunar = section("dqn.yml", "LunarLander-v2").data["config"]
    assert lunar["training_intensity"] == 32 * 16 / 16  # gradient_steps -1: one batch per transition collected
    assert lunar["model_config"]["fcnet_hiddens"] == [256, 256]
    car = section("sac.yml", "MountainCarContinuous-v0")
    config = car.data["config"]
    assert (config["actor_lr"], config["critic_lr"], config["alpha_lr"]) == (3e-4, 3e-4, 3e-4) and "lr" not in config
    assert config["initial_alpha"] == 0.1 and config["tau"] == 0.01 and config["training_intensity"] == 512
    assert config["model_config"] == {"fcnet_hiddens": [64, 64], "fcnet_activation": "relu", "log_std_init": -3.67}
    assert any("ent_coef=0.1: RLlib's SAC tunes the entropy coefficient" in note for note in car.notes)
    humanoid = section("sac.yml", "HumanoidBulletEnv-v0")
    assert humanoid.data["config"]["observation_filter"] == "MeanStdFilter"
    assert "normalize_rewards" not in humanoid.data["config"]  # norm_reward: False
    assert not any("normalise" in note for note in humanoid.notes)
    assert any("SAC's learning rates kept at 0.0003" in note for note in humanoid.notes)


@pytest.mark.parametrize(
    ("normalize", "observations", "rewards"),
    [
        (True, True, True),
        (False, False, False),
        ("{'norm_obs': True, 'norm_reward': False}", True, False),
        ("{'norm_obs': False, 'norm_reward': True}", False, True),
        ({"norm_obs": False}, False, True),  # VecNormalize's defaults: both on
        ("{}", True, True),
    ],
)
def test_normalize_is_vecnormalize_of_observations_and_rewards(
    normalize: Any, observations: bool, rewards: bool
) -> None:
    """SB3's ``normalize`` (true, false, or VecNormalize's keywords as a dict or its Python text) -> RLlib's
    observation filter and rlrt's reward normalisation, each where SB3 normalises; the gamma is the entry's (or
    SB3's 0.99), which the job's normalisation then discounts by."""
    section = {"n_timesteps": 1000, "gamma": 0.95, "normalize": normalize}
    for algorithm in ("PPO", "DQN", "SAC"):
        config, _, notes = zoo_settings(algorithm, section, "test")
        assert ("observation_filter" in config, config.get("normalize_rewards", False)) == (observations, rewards)
        assert config["gamma"] == 0.95 and not any("normali" in note for note in notes)
    config, _, _ = zoo_settings("PPO", {"n_timesteps": 1000, "normalize": True}, "test")
    assert config["gamma"] == 0.99 and config["normalize_rewards"] is True


def test_a_zoo_file_is_the_preset_of_the_jobs_environment() -> None:
    spec = hp.resolve({"preset": str(ZOO / "ppo.yml"), hp.ENV: "CartPole-v1"}, INSTALLED.validator_for, num_cpus=2)
    assert (spec.preset, spec.env, spec.algorithm) == ("ppo-CartPole-v1", "CartPole-v1", "PPO")
    assert spec.config["num_epochs"] == 20 and spec.stop == {"timesteps_total": 100_000}
    spec = hp.resolve({"preset": str(ZOO / "sac.yml"), hp.ENV: "Pendulum-v1"}, INSTALLED.validator_for, num_cpus=2)
    assert spec.algorithm == "SAC" and spec.config["actor_lr"] == 1e-3 and spec.config["tau"] == 0.005
    with pytest.raises(UserError, match=r"with 5 environments: name the one to train with rl.training.env"):
        load_preset(str(ZOO / "ppo.yml"))
    with pytest.raises(UserError, match=r"has no section for CartPol-v1. Did you mean 'CartPole-v1'\?"):
        load_preset(str(ZOO / "ppo.yml"), env="CartPol-v1")
    with pytest.raises(UserError, match=r"atari: env_wrapper, frame_stack change\(s\) the environment"):
        load_preset(str(ZOO / "ppo.yml"), env="atari")


def test_what_is_not_a_zoo_file_or_not_trainable_is_said(tmp_path: Path) -> None:
    assert not is_zoo_file({"name": "x", "env": "CartPole-v1", "algorithm": "PPO", "stop": {}})
    assert is_zoo_file(yaml.safe_load((ZOO / "dqn.yml").read_text()))
    a2c = tmp_path / "a2c.yml"
    a2c.write_text("CartPole-v1:\n  n_timesteps: 1000\n  policy: MlpPolicy\n")
    with pytest.raises(
        UserError,
        match=r"a2c.yml is an RL Zoo hyperparameter file; .* rlrt trains ppo.yml, "
        r"dqn.yml, sac.yml",
    ):
        load_preset(str(a2c))
    bad = tmp_path / "ppo.yml"
    bad.write_text("CartPole-v1:\n  n_timesteps: 1000\n  policy_kwargs: \"dict(net_arch=__import__('os'))\"\n")
    with pytest.raises(UserError, match=r"policy_kwargs: \"__import__\('os'\)\" is not a value rlrt reads"):
        load_preset(str(bad))


ZOO_STRINGS = [
    "lin_0.001",
    "lin_x",
    "auto",
    "auto_0.1",
    "auto_y",
    "dict(net_arch=[64])",
    "dict(net_arch=dict(pi=[8], vf=[16]))",
    "dict(activation_fn=nn.GELU)",
    "[1, 'step']",
    "dict(log_std_init=-1, ortho_init=True)",
    "dict(",
]
VALUES = st.one_of(
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(ZOO_STRINGS),
    st.lists(st.integers(-1, 64), max_size=3),
)
KEYS = st.sampled_from(
    [
        "n_timesteps",
        "n_envs",
        "n_steps",
        "batch_size",
        "learning_rate",
        "clip_range",
        "gamma",
        "gae_lambda",
        "ent_coef",
        "vf_coef",
        "max_grad_norm",
        "policy_kwargs",
        "normalize",
        "train_freq",
        "gradient_steps",
        "buffer_size",
        "learning_starts",
        "tau",
        "exploration_fraction",
        "target_entropy",
        "env_kwargs",
        "use_sde",
        "made_up",
        "policy",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ppo", "dqn", "sac"]), st.dictionaries(KEYS, VALUES, max_size=10))
def test_any_section_is_read_or_refused_with_a_user_error(algorithm: str, values: dict[str, Any]) -> None:
    path = Path(f"/zoo/{algorithm}.yml")
    try:
        zoo = zoo_preset({"CartPole-v1": values}, path, None)
    except UserError as exc:
        assert str(exc)
        return
    assert zoo.data["stop"]["timesteps_total"] >= 1 and zoo.data["algorithm"] == algorithm.upper()
