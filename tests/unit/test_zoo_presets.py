"""The LunarLander-v3 and MuJoCo Hopper presets hold RL Baselines3 Zoo's tuned PPO settings: the Zoo's entries are
copied here in SB3's names (DLR-RM/rl-baselines3-zoo, hyperparams/ppo.yml: LunarLander-v2, the env gymnasium 1.0
renamed LunarLander-v3, and Hopper-v4) and translated by hand, so a preset edited away from the Zoo fails here; a job
naming the env and PPO gets them."""

from __future__ import annotations


import pytest

from runtime.config.presets import load_preset, preset_for_job

# hyperparams/ppo.yml as the Zoo writes the two entries.
ZOO_LUNARLANDER = {
    "n_envs": 16,
    "n_timesteps": 1e6,
    "n_steps": 1024,
    "batch_size": 64,
    "gae_lambda": 0.98,
    "gamma": 0.999,
    "n_epochs": 4,
    "ent_coef": 0.01,
}
ZOO_HOPPER = {
    "normalize": True,
    "n_envs": 1,
    "n_timesteps": 1e6,
    "batch_size": 32,
    "n_steps": 512,
    "gamma": 0.999,
    "learning_rate": 9.80828e-05,
    "ent_coef": 0.00229519,
    "clip_range": 0.2,
    "n_epochs": 5,
    "gae_lambda": 0.99,
    "max_grad_norm": 0.7,
    "vf_coef": 0.835671,
    "log_std_init": -2,
    "activation_fn": "ReLU",
    "net_arch": [256, 256],
}
# Stable-Baselines3 2.x's PPO where an entry is silent.
SB3_PPO = {
    "learning_rate": 3e-4,
    "clip_range": 0.2,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "net_arch": [64, 64],
    "activation_fn": "Tanh",
}


def rllib_names(zoo: dict) -> dict:
    settings = {**SB3_PPO, **zoo}
    return {
        "gamma": settings["gamma"],
        "lambda": settings["gae_lambda"],
        "lr": settings["learning_rate"],
        "num_envs_per_env_runner": settings["n_envs"],
        "train_batch_size_per_learner": settings["n_envs"] * settings["n_steps"],
        "minibatch_size": settings["batch_size"],
        "num_epochs": settings["n_epochs"],
        "entropy_coeff": settings["ent_coef"],
        "vf_loss_coeff": settings["vf_coef"],
        "clip_param": settings["clip_range"],
        "grad_clip": settings["max_grad_norm"],
    }


@pytest.mark.parametrize(
    ("name", "zoo", "env"),
    [("lunarlander-ppo", ZOO_LUNARLANDER, "LunarLander-v3"), ("mujoco-hopper-ppo", ZOO_HOPPER, "Hopper-v5")],
)
def test_the_preset_is_the_zoos_entry_in_rllibs_names(name: str, zoo: dict, env: str) -> None:
    preset = load_preset(name)
    assert (preset.env, preset.algorithm) == (env, "PPO")
    config = dict(preset.config)
    assert {key: config[key] for key in rllib_names(zoo)} == rllib_names(zoo)
    assert preset.stop["timesteps_total"] == zoo["n_timesteps"]
    # As SB3's PPO: no KL penalty, the value loss not clipped, separate policy and value networks.
    assert config["use_kl_loss"] is False and config["vf_clip_param"] >= 1e5
    model = config["model_config"]
    assert model["fcnet_hiddens"] == zoo.get("net_arch", SB3_PPO["net_arch"]) and model["vf_share_layers"] is False
    assert model["fcnet_activation"] == zoo.get("activation_fn", SB3_PPO["activation_fn"]).lower()
    # normalize: true is SB3's VecNormalize of observations and rewards.
    assert (config.get("observation_filter") == "MeanStdFilter") == bool(zoo.get("normalize"))
    assert config.get("normalize_rewards", False) == bool(zoo.get("normalize"))
    assert model.get("log_std_init") == zoo.get("log_std_init")


def test_the_pass_bars() -> None:
    # gymnasium's reward_threshold for LunarLander-v3; the Zoo's PPO score on Hopper (2410 at 1M steps), which
    # gymnasium's 3800 is beyond.
    assert (load_preset("lunarlander-ppo").pass_bar.value, load_preset("mujoco-hopper-ppo").pass_bar.value) == (
        200,
        2400,
    )


@pytest.mark.parametrize(
    ("env", "algorithm", "preset"),
    [
        ("LunarLander-v3", "PPO", "lunarlander-ppo"),
        ("LunarLander", "ppo", "lunarlander-ppo"),
        ("Hopper-v5", None, "mujoco-hopper-ppo"),
        ("HopperBulletEnv-v0", "PPO", "hopper-ppo"),
        ("LunarLander-v3", "DQN", "cartpole-ppo"),
        ("Humanoid-v5", "PPO", "cartpole-ppo"),
    ],
)
def test_a_job_naming_the_env_gets_its_preset(env: str, algorithm: str | None, preset: str) -> None:
    assert preset_for_job("cartpole-ppo", env, algorithm) == preset


# hyperparams/sac.yml as the Zoo writes its HumanoidBulletEnv-v0 entry, and Stable-Baselines3 2.x's SAC where it is
# silent.
ZOO_HUMANOID_SAC = {
    "normalize": "{'norm_obs': True, 'norm_reward': False}",
    "n_timesteps": 2e7,
    "policy": "MlpPolicy",
    "learning_rate": "lin_3e-4",
    "buffer_size": 1000000,
    "batch_size": 64,
    "ent_coef": "auto",
    "train_freq": 1,
    "gradient_steps": 1,
    "learning_starts": 1000,
}
SB3_SAC = {"gamma": 0.99, "tau": 0.005, "net_arch": [256, 256], "activation_fn": "ReLU"}


def test_the_off_policy_humanoid_is_the_zoos_sac_entry_in_rllibs_names() -> None:
    preset = load_preset("humanoid-sac")
    assert (preset.env, preset.algorithm) == ("HumanoidBulletEnv-v0", "SAC")
    config = dict(preset.config)
    zoo = {**SB3_SAC, **ZOO_HUMANOID_SAC}
    rate = float(zoo["learning_rate"].removeprefix("lin_"))
    assert (config["actor_lr"], config["critic_lr"], config["alpha_lr"]) == (rate, rate, rate)
    assert (config["gamma"], config["tau"], config["n_step"]) == (zoo["gamma"], zoo["tau"], 1)
    assert config["train_batch_size_per_learner"] == zoo["batch_size"]
    # RLlib's replay ratio: transitions trained per transition sampled; SB3's gradient_steps batches of batch_size
    # every train_freq steps.
    assert config["training_intensity"] == zoo["batch_size"] * zoo["gradient_steps"] / zoo["train_freq"]
    assert config["replay_buffer_config"]["capacity"] == zoo["buffer_size"]
    assert config["num_steps_sampled_before_learning_starts"] == zoo["learning_starts"]
    assert config["observation_filter"] == "MeanStdFilter" and "normalize_rewards" not in config  # norm_obs only
    assert "initial_alpha" not in config and "target_entropy" not in config  # ent_coef auto: tuned from 1.0
    model = config["model_config"]
    assert model["fcnet_hiddens"] == zoo["net_arch"] and model["fcnet_activation"] == zoo["activation_fn"].lower()
    assert preset.stop["timesteps_total"] == zoo["n_timesteps"] and preset.pass_bar.value == 3500


def test_a_humanoid_job_naming_sac_gets_the_off_policy_preset() -> None:
    assert preset_for_job("cartpole-ppo", "HumanoidBulletEnv-v0", "SAC") == "humanoid-sac"
    assert preset_for_job("cartpole-ppo", "RoboschoolHumanoid-v1", "sac") == "humanoid-sac"
    # The seeds' Humanoid job names no algorithm: PPO, as the seed's.
    assert preset_for_job("cartpole-ppo", "HumanoidBulletEnv-v0", None) == "humanoid-ppo"
