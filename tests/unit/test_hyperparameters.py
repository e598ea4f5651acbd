"""Hyperparameter resolution: SageMaker's grammar, the seeds' old names, and a clear error for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs import adapters
from runtime.config import hyperparameters as hp
from runtime.config.runners import default_env_runners
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.job.environment import load_environment
from runtime.plugins import INSTALLED
from tests.conftest import make_job_tree

_validator = INSTALLED.validator_for


def resolve(hps: dict) -> TrainingSpec:
    return hp.resolve(hps, _validator, num_cpus=2)


def test_defaults_to_the_cartpole_preset() -> None:
    spec = resolve({})
    assert spec.preset == "cartpole-ppo"
    assert spec.env == "CartPole-v1"
    assert spec.algorithm == "PPO"
    assert spec.config["num_env_runners"] == 0  # two CPUs: the driver samples itself
    assert spec.stop["episode_reward_mean"] == 475


def test_env_runners_default_to_the_cpus_but_one_and_to_the_driver_on_two_cpus() -> None:
    assert default_env_runners(4, "CartPole-v1") == 3
    assert default_env_runners(2, "CartPole-v1") == 0 and default_env_runners(1, "CartPole-v1") == 0
    # A Unity game keeps its own runner (RLlib restarts it when the player dies; its samples have a timeout).
    assert default_env_runners(2, "Unity") == 1 and default_env_runners(2, "Unity:3DBall") == 1
    assert hp.resolve({"preset": "unity-basic-ppo"}, _validator, num_cpus=2).config["num_env_runners"] == 1
    assert default_env_runners(2, "NoSuchEnv-v9") == 0  # the job setup reports the unknown environment
    # A physics engine's slow step on two CPUs: both sample while the learner waits (PPO samples, then learns).
    assert default_env_runners(2, "HopperBulletEnv-v0") == 2 and default_env_runners(2, "Hopper") == 2
    assert default_env_runners(8, "RoboschoolHopper-v1") == 7
    assert default_env_runners(1, "HumanoidBulletEnv-v0") == 0  # one CPU: the driver samples, no second process
    assert hp.resolve({"preset": "hopper-ppo"}, _validator, num_cpus=2).config["num_env_runners"] == 2
    # PyBullet's walkers without a preset step slowly too; its inverted pendulums step ~5x faster, as Acrobot-v1 does.
    assert default_env_runners(2, "RoboschoolHalfCheetah-v1") == 2
    assert default_env_runners(2, "InvertedPendulumBulletEnv-v0") == 0


def test_values_arrive_json_encoded_as_sagemaker_writes_them(tmp_path: Path) -> None:
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "preset": "reacher-ppo",
            "rl.training.config.lr": 0.000734,
            "rl.training.config.num_sgd_iter": 7,
            "rl.training.stop.time_total_s": 600,
            "sagemaker_program": "train-reacher.py",
            "sagemaker_submit_directory": "s3://bucket/source.tar.gz",
        },
    )
    raw = json.loads((tree.base / "input/config/hyperparameters.json").read_text())
    assert raw["preset"] == '"reacher-ppo"' and raw["rl.training.config.lr"] == "0.000734"
    spec = resolve(dict(load_environment(tree.base).hyperparameters))
    assert spec.preset == "reacher-ppo"
    assert spec.config["lr"] == pytest.approx(0.000734)
    assert spec.config["num_epochs"] == 7
    assert spec.stop["time_total_s"] == 600
    assert "sagemaker_program" not in spec.hyperparameters


@pytest.mark.parametrize("key", ["preset", "RLRAY_PRESET", "RLCOACH_PRESET"])
def test_preset_aliases(key: str) -> None:
    assert resolve({key: "hopper-ppo"}).preset == "hopper-ppo"


def test_seed_preset_names_and_roboschool_ids_map_to_ours() -> None:
    assert resolve({"preset": "RoboschoolHopper-v1"}).preset == "hopper-ppo"
    assert resolve({"rl.training.env": "RoboschoolReacher-v1"}).env == "RoboschoolReacher-v1"


def test_old_rllib_names_are_translated() -> None:
    spec = resolve(
        {
            "rl.training.config.num_sgd_iter": 20,
            "rl.training.config.sgd_minibatch_size": 1000,
            "rl.training.config.train_batch_size": 25000,
            "rl.training.config.num_workers": 3,
            "rl.training.config.kl_coeff": 1.0,
            "rl.training.config.lambda": 0.95,
            "rl.training.config.horizon": 300,
            "rl.training.config.vf_share_layers": True,
            "rl.training.config.model": {"fcnet_hiddens": [32, 32]},
            "rl.training.config.monitor": True,
        }
    )
    assert spec.config["num_epochs"] == 20
    assert spec.config["minibatch_size"] == 1000
    assert spec.config["train_batch_size_per_learner"] == 25000
    assert spec.config["num_env_runners"] == 3
    assert spec.config["kl_coeff"] == 1.0
    assert spec.config["lambda"] == 0.95
    assert spec.env_config["episode_step_cap"] == 300 and "max_episode_steps" not in spec.env_config
    assert spec.config["model_config"]["vf_share_layers"] is True
    assert spec.config["model_config"]["fcnet_hiddens"] == [32, 32]
    assert "monitor" not in spec.config and "record_video_every" not in spec.extras  # monitor: true is the default


def test_rllib_1x_fault_tolerance_and_framework_keys() -> None:
    spec = resolve(
        {
            "rl.training.config.ignore_worker_failures": True,
            "rl.training.config.recreate_failed_workers": False,
            "rl.training.config.max_num_worker_restarts": 3,
            "rl.training.config.framework": "torch",
            "rl.training.config.use_pytorch": True,
            "rl.training.config.batch_mode": "complete_episodes",
            "rl.training.config.model": {"free_log_std": True},
        }
    )
    assert spec.config["ignore_env_runner_failures"] is True
    assert spec.config["restart_failed_env_runners"] is False
    assert spec.config["max_num_env_runner_restarts"] == 3
    assert spec.config["batch_mode"] == "complete_episodes"
    assert spec.config["model_config"]["free_log_std"] is True
    assert not {"framework", "use_pytorch", "ignore_worker_failures"} & set(spec.config)


def test_monitor_false_turns_rollout_videos_off_and_config_env_names_the_environment() -> None:
    assert resolve({"rl.training.config.monitor": False}).extras["record_video_every"] == 0
    assert resolve({"rl.training.config.monitor": False, "record_video_every": 5}).extras["record_video_every"] == 5
    # The Unity example (and SageMaker RL's launchers) set the environment inside the algorithm configuration.
    spec = resolve({"rl.training.config.env": "Pendulum-v1"})
    assert spec.env == "Pendulum-v1" and "env" not in spec.config
    assert resolve({"rl.training.config.env": "Pendulum-v1", "rl.training.env": "Pendulum-v1"}).env == "Pendulum-v1"


def test_numbers_given_as_strings_are_those_numbers(tmp_path: Path) -> None:
    # The SDK JSON-encodes every value: {"rl.training.config.num_sgd_iter": "4"} arrives as "\"4\"".
    given = {
        "rl.training.config.num_sgd_iter": "4",
        "rl.training.config.lr": "3e-4",
        "rl.training.config.gamma": "0.9",
        "rl.training.config.horizon": "50",
        "rl.training.config.model.fcnet_hiddens": [8],
        "rl.training.config.model_config.log_std_clip_param": "5",
        "rl.training.stop.training_iteration": "3",
        "rl.training.stop.time_total_s": "60.5",
        "rl.training.checkpoint_freq": "2",
        "seed": "7",
        "record_video_every": "0",
        "rl.training.config.entropy_coeff": "0",
    }
    tree = make_job_tree(tmp_path / "ml", given)
    raw = json.loads((tree.base / "input/config/hyperparameters.json").read_text())
    assert raw["rl.training.config.num_sgd_iter"] == '"4"'
    spec = resolve(dict(load_environment(tree.base).hyperparameters))
    assert spec.config["num_epochs"] == 4 and isinstance(spec.config["num_epochs"], int)
    assert spec.config["lr"] == pytest.approx(3e-4) and spec.config["gamma"] == pytest.approx(0.9)
    assert spec.config["entropy_coeff"] == 0
    assert spec.config["model_config"]["log_std_clip_param"] == 5.0
    assert spec.env_config["episode_step_cap"] == 50
    assert spec.stop["training_iteration"] == 3 and spec.stop["time_total_s"] == 60.5
    assert spec.checkpoint_frequency == 2 and spec.seed == 7 and spec.extras["record_video_every"] == 0
    offline = resolve(
        {
            "preset": "cartpole-bcq",
            "rl.training.config.batch_size": "64",
            "rl.training.config.learning_rate": "0.001",
            "rl.training.config.n_steps_per_epoch": "10",
        }
    )
    assert offline.config["batch_size"] == 64 and offline.config["learning_rate"] == 0.001
    assert offline.config["n_steps_per_epoch"] == 10


def test_learning_rate_and_entropy_schedules_in_rllib_1x_and_2x_form() -> None:
    # RLlib 2.x takes a piecewise-linear schedule as the setting itself; RLlib 1.x's lr_schedule /
    # entropy_coeff_schedule override the fixed value, as they did there.
    schedule = [[0, 0.001], [100000, 0.0]]
    assert resolve({"rl.training.config.lr": schedule}).config["lr"] == schedule
    spec = resolve(
        {
            "rl.training.config.lr": 0.01,
            "rl.training.config.lr_schedule": schedule,
            "rl.training.config.entropy_coeff_schedule": [[0, 0.01], [50000, 0.001]],
        }
    )
    assert spec.config["lr"] == schedule and spec.config["entropy_coeff"] == [[0, 0.01], [50000, 0.001]]
    assert "lr_schedule" not in spec.config and "entropy_coeff_schedule" not in spec.config
    assert resolve({"rl.training.config.lr_schedule": None}).config["lr"] == [[0, 0.004], [300000, 0.0]]  # the preset's


def test_nested_and_env_config_overrides_merge_with_the_preset() -> None:
    spec = resolve(
        {
            "rl.training.config.model_config.fcnet_hiddens": [16],
            "rl.training.config.env_config.max_episode_steps": 100,
            "rl.training.stop.training_iteration": 3,
        }
    )
    assert spec.config["model_config"]["fcnet_hiddens"] == [16]
    assert spec.config["model_config"]["vf_share_layers"] is False  # kept from the preset
    assert spec.env_config == {"max_episode_steps": 100}
    assert spec.stop == {"episode_reward_mean": 475, "timesteps_total": 300000, "training_iteration": 3}


def test_an_integral_float_is_accepted_for_an_integer_key() -> None:
    # The tuner writes IntegerParameter values as integers, but a user may write 7.0.
    assert resolve({"rl.training.config.num_sgd_iter": 7.0}).config["num_epochs"] == 7.0


BAD_INPUTS = [
    ({"rl.training.config.lrr": 0.1}, "rl.training.config.lrr", "rl.training.config.lr"),
    ({"rl.training.config.num_sgd_iters": 3}, "num_sgd_iters", "num_sgd_iter"),
    ({"rl.training.config.lr": "fast"}, "rl.training.config.lr", "must be a number"),
    ({"rl.training.config.lr": -0.1}, "rl.training.config.lr", "> 0"),
    ({"rl.training.config.lr": True}, "rl.training.config.lr", "must be a number"),
    ({"rl.training.config.gamma": 1.5}, "rl.training.config.gamma", "[0, 1]"),
    ({"rl.training.config.num_sgd_iter": 2.5}, "'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs)", "integer"),
    ({"rl.training.config.num_sgd_iter": 0}, "'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs)", ">= 1"),
    ({"rl.training.config.train_batch_size": "big"}, "train_batch_size_per_learner", "integer"),
    ({"rl.training.config.num_workers": -1}, "num_env_runners", ">= 0"),
    ({"rl.training.config.vf_share_layers": "yes"}, "vf_share_layers", "true or false"),
    ({"rl.training.config.model": [1, 2]}, "'model'", "JSON object"),
    ({"rl.training.config.model": {"free_log_stdd": True}}, "model.free_log_stdd", "no RLlib 2.x equivalent"),
    ({"rl.training.config.model_config.fcnet_hidden": [8]}, "model_config.fcnet_hidden", "fcnet_hiddens"),
    ({"rl.training.config.model_config.log_std_init": 30}, "model_config.log_std_init", "[-20, 20]"),
    ({"rl.training.config.model_config.log_std_init": float("nan")}, "model_config.log_std_init", "[-20, 20]"),
    ({"rl.training.config.model_config.log_std_init": "low"}, "model_config.log_std_init", "must be a number"),
    ({"rl.training.config.horizon": 0}, "horizon", "integer >= 1"),
    ({"rl.training.config.horizon": "long"}, "horizon", "integer >= 1"),
    (
        {"rl.training.config.num_sgd_iter": "4.5"},
        "'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs)",
        "integer",
    ),
    (
        {"rl.training.config.num_sgd_iter": "four"},
        "'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs)",
        "integer",
    ),
    ({"rl.training.config.lr": "1e400"}, "rl.training.config.lr", "must be a number"),
    ({"rl.training.config.lr": "nan"}, "rl.training.config.lr", "must be a number"),
    ({"rl.training.stop.training_iteration": "2.5"}, "training_iteration", "integer"),
    ({"seed": "-3"}, "seed", ">= 0"),
    ({"preset": "cartpole-bcq", "rl.training.config.batch_size": "sixty"}, "batch_size", "integer"),
    ({"rl.training.config.framework": "jax"}, "framework", "torch"),
    ({"rl.training.config.eager": "yes"}, "eager", "torch"),
    ({"rl.training.config.batch_mode": "complete_episode"}, "batch_mode", "complete_episodes"),
    ({"rl.training.config.monitor": "yes"}, "monitor", "record_video_every"),
    ({"rl.training.config.env": 5}, "rl.training.config.env", "environment id"),
    (
        {"rl.training.config.env": "Pendulum-v1", "rl.training.env": "CartPole-v1"},
        "rl.training.config.env",
        "different environments",
    ),
    ({"rl.training.config.observation_filter": "Zscore"}, "observation_filter", "MeanStdFilter"),
    ({"rl.training.config._disable_preprocessor_api": True}, "_disable_preprocessor_api", "Unknown"),
    ({"rl.training.config.env_config": "CartPole"}, "env_config", "JSON object"),
    ({"rl.training.stop.episode_reward": 10}, "rl.training.stop.episode_reward", "episode_reward_mean"),
    ({"rl.training.stop.training_iteration": 0}, "training_iteration", ">= 1"),
    ({"rl.training.stop.training_iteration": 2.5}, "training_iteration", "integer"),
    ({"rl.training.stop.time_total_s": "ten minutes"}, "time_total_s", "seconds"),
    ({"rl.training.stop.timesteps_total": -5}, "timesteps_total", ">= 1"),
    ({"learning_rate": 0.1}, "learning_rate", "rl.training.config.learning_rate"),
    ({"presett": "hopper-ppo"}, "presett", "preset"),
    ({"preset": "hoppr-ppo"}, "hoppr-ppo", "hopper-ppo"),
    ({"preset": 5}, "'preset'", "preset name"),
    ({"preset": "hopper-ppo", "RLRAY_PRESET": "reacher-ppo"}, "Conflicting presets", "RLRAY_PRESET"),
    ({"rl.training.run": "PPOO"}, "PPOO", "PPO"),
    ({"rl.training.checkpoint_freq": 0}, "checkpoint_freq", ">= 1"),
    ({"evaluate_episodes": "five"}, "evaluate_episodes", "integer"),
    ({"seed": -3}, "seed", ">= 0"),
    ({"rl.training.config.lr": [[100, 0.001]]}, "rl.training.config.lr", "start at timestep 0"),
    ({"rl.training.config.lr": [[0, 0.001], [0, 0.0]]}, "rl.training.config.lr", "timesteps must increase"),
    ({"rl.training.config.lr": [[0, -0.001]]}, "rl.training.config.lr", "value >= 0"),
    ({"rl.training.config.lr": [0.001, 0.0]}, "rl.training.config.lr", "or a schedule [[0, value]"),
    ({"rl.training.config.lr_schedule": "linear"}, "rl.training.config.lr", "must be a number"),
    ({"rl.training.config.entropy_coeff_schedule": [[0, "high"]]}, "rl.training.config.entropy_coeff", "schedule"),
]


@pytest.mark.parametrize(
    ("hps", "names", "hint"), BAD_INPUTS, ids=[str(list(b[0])[0]) + "-" + str(i) for i, b in enumerate(BAD_INPUTS)]
)
def test_bad_input_fails_with_a_message_naming_the_key(hps: dict, names: str, hint: str) -> None:
    with pytest.raises(UserError) as info:
        resolve(hps)
    message = str(info.value)
    assert names in message
    assert hint in message


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(UserError) as info:
        resolve({"rl.training.config.lrr": 1, "rl.training.stop.foo": 1, "bogus": 2})
    message = str(info.value)
    assert message.startswith("3 invalid hyperparameters")
    assert "lrr" in message and "foo" in message and "bogus" in message


def test_resolved_spec_is_json_serialisable() -> None:
    data = resolve({"rl.training.config.lr": 0.01}).to_dict()
    assert json.loads(json.dumps(data))["config"]["lr"] == 0.01


def test_decode_value_behaves_like_sagemaker_training() -> None:
    assert hp.decode_value('"a"') == "a"
    assert hp.decode_value("0.5") == 0.5
    assert hp.decode_value("[1, 2]") == [1, 2]
    assert hp.decode_value("cartpole-ppo") == "cartpole-ppo"


def test_tune_1x_stop_keys_are_understood() -> None:
    """SageMaker RL's experiments stop on any of Tune 1.x's result keys (value >= threshold, as Tune did)."""
    spec = resolve(
        {
            "rl.training.stop.episodes_total": "40",
            "rl.training.stop.episode_reward_max": 200,
            "rl.training.stop.episode_reward_min": -5.5,
            "rl.training.stop.episode_len_mean": 150,
        }
    )
    assert {
        k: spec.stop[k] for k in ("episodes_total", "episode_reward_max", "episode_reward_min", "episode_len_mean")
    } == {"episodes_total": 40, "episode_reward_max": 200, "episode_reward_min": -5.5, "episode_len_mean": 150}
    with pytest.raises(UserError, match="episodes_total' must be an integer >= 1"):
        resolve({"rl.training.stop.episodes_total": 0})


def test_rllib_1x_dqn_and_sac_names_reach_their_2x_settings() -> None:
    """SageMaker RL's DQN / Ape-X / SAC experiments: each RLlib 1.x name lands on the 2.x setting of the same
    meaning (a replay-buffer key inside replay_buffer_config), and RLlib builds it."""
    from runtime.backends.rllib.algorithm import build_algorithm_config
    from sagemaker_rl.experiment import BASE_PRESET

    def resolve(hps: dict) -> TrainingSpec:  # a launcher's experiment: no preset settings of its own
        return hp.resolve({"rl.training.env": "CartPole-v1", **hps}, _validator, default_preset=BASE_PRESET, num_cpus=2)

    dqn = resolve(
        {
            "rl.training.run": "DQN",
            "rl.training.config.buffer_size": 5000,
            "rl.training.config.prioritized_replay": False,
            "rl.training.config.timesteps_per_iteration": 1000,
            "rl.training.config.learning_starts": 100,
            "rl.training.config.min_iter_time_s": 1,
            "rl.training.config.replay_buffer_config": {"capacity": 6000},
        }
    )
    assert dqn.config["replay_buffer_config"] == {"capacity": 6000, "type": "EpisodeReplayBuffer"}
    assert dqn.config["min_sample_timesteps_per_iteration"] == 1000 and dqn.config["min_time_s_per_iteration"] == 1
    assert dqn.config["num_steps_sampled_before_learning_starts"] == 100
    built = build_algorithm_config(dqn, "CartPole-v1")
    assert (
        built.replay_buffer_config["capacity"] == 6000 and built.replay_buffer_config["type"] == "EpisodeReplayBuffer"
    )
    per = resolve(
        {
            "rl.training.run": "DQN",
            "rl.training.config.prioritized_replay_alpha": 0.5,
            "rl.training.config.prioritized_replay_beta": 0.3,
        }
    )
    assert per.config["replay_buffer_config"] == {"alpha": 0.5, "beta": 0.3}
    sac = resolve(
        {
            "rl.training.run": "SAC",
            "rl.training.env": "Pendulum-v1",
            "rl.training.config.optimization": {
                "actor_learning_rate": 0.0003,
                "critic_learning_rate": 0.0004,
                "entropy_learning_rate": 0.0005,
            },
        }
    )
    assert (sac.config["actor_lr"], sac.config["critic_lr"], sac.config["alpha_lr"]) == (0.0003, 0.0004, 0.0005)
    with pytest.raises(UserError, match="prioritized_replay' must be true or false"):
        resolve({"rl.training.run": "DQN", "rl.training.config.prioritized_replay": "yes"})
    # APPO / IMPALA: RLlib 1.x's names where 2.x has the setting; APPO's use_critic: true is what 2.x always does.
    appo = resolve(
        {
            "rl.training.run": "APPO",
            "rl.training.config.target_update_frequency": 2,
            "rl.training.config.use_critic": True,
            "rl.training.config.vtrace": True,
        }
    )
    assert appo.config["target_network_update_freq"] == 2 and "use_critic" not in appo.config
    build_algorithm_config(appo, "CartPole-v1")
    impala = resolve(
        {
            "rl.training.run": "IMPALA",
            "rl.training.config.max_sample_requests_in_flight_per_worker": 3,
            "rl.training.config.replay_proportion": 0.5,
        }
    )
    assert impala.config["max_requests_in_flight_per_env_runner"] == 3
    with pytest.raises(UserError, match="'use_critic': RLlib 2.x's APPO always learns a critic"):
        resolve({"rl.training.run": "APPO", "rl.training.config.use_critic": False})


def test_another_algorithm_takes_none_of_the_presets_settings(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rl.training.run=DQN`` on the default (PPO) preset: the preset's PPO settings are the preset's, not the
    user's mistakes; none is used (not even those DQN also has: CartPole-PPO's learning-rate schedule and gamma),
    one line says so, and the user's own unknown keys are still refused."""
    monkeypatch.setattr(adapters, "_SAID", set())  # the once-per-process lines, said afresh here
    spec = resolve({"rl.training.run": "DQN"})
    assert spec.algorithm == "DQN" and not {"lambda", "clip_param", "entropy_coeff", "vf_loss_coeff"} & set(spec.config)
    assert (spec.config["lr"], spec.config["gamma"]) == (2.5e-4, 0.99)  # RL Zoo's DQN, not CartPole-PPO's
    assert spec.preset == "space-defaults/DQN-discrete"
    line = next(x for x in capsys.readouterr().err.splitlines() if x.startswith("rlrt: preset cartpole-ppo is for"))
    assert "this DQN job takes its environment and stop criteria, not its settings" in line and "clip_param" in line
    with pytest.raises(UserError, match="clip_param"):
        resolve({"rl.training.run": "DQN", "rl.training.config.clip_param": 0.2})


def test_the_evaluations_env_names_no_training_env() -> None:
    """``env`` is what `rlrt evaluate` plays: a training job given only ``env`` of another environment is refused,
    naming the key that trains it (before: it trained the preset's CartPole and exited 0)."""
    with pytest.raises(
        UserError,
        match=r"'env' \(Acrobot-v1\) names the environment `rlrt evaluate` plays; this "
        r"job trains CartPole-v1\. To train Acrobot-v1, set 'rl\.training\.env'",
    ):
        resolve({"env": "Acrobot-v1"})
    assert resolve({"env": "CartPole-v1"}).env == "CartPole-v1"
    both = resolve({"env": "CartPole-v1", "rl.training.env": "Acrobot-v1"})
    assert both.env == "Acrobot-v1"
