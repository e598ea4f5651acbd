"""A Coach preset's graph manager as one rlrt job (``sagemaker_rl.coach_translate``): the CartPole Coach example's
presets (../shared/coach, byte-for-byte) become RLlib PPO / DQN hyperparameters in rlrt's grammar, what has no
counterpart is named one line each, and a preset rlrt cannot train is refused naming what."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from runtime.config.hyperparameters import resolve
from runtime.config.presets import load_preset_file
from runtime.errors import UserError
from runtime.plugins import INSTALLED
from sagemaker_rl.coach_launcher import CoachConfigurationList, SageMakerCoachPresetLauncher
from sagemaker_rl.coach_translate import translate
from tests.unit.test_rl_coach_params import BATCH, CARTPOLE, KNAPSACK, rl_coach  # noqa: F401 - the fixture

CONFIG, STOP = "rl.training.config.", "rl.training.stop."


def graph_manager(path: Path, **hyperparameters: Any) -> Any:
    built = runpy.run_path(str(path))["graph_manager"]
    applied = CoachConfigurationList()
    for name, value in hyperparameters.items():
        applied.store(name, value)
    applied.apply_subset(built, "rl.")
    return built


def test_clipped_ppo_becomes_rllib_ppo(rl_coach: None) -> None:
    job = translate(
        graph_manager(
            CARTPOLE / "preset-cartpole-clippedppo.py",
            **{
                "rl.agent_params.algorithm.discount": 0.9,
                "rl.improve_steps:TrainingSteps": 3,
                "rl.evaluation_steps:EnvironmentEpisodes": 8,
            },
        )
    )
    hp = job.hyperparameters
    assert (job.algorithm, job.env, job.pass_bar, job.evaluation_episodes) == ("PPO", "CartPole-v0", 150.0, 8)
    assert hp["rl.training.run"] == "PPO" and hp["rl.training.env"] == "CartPole-v0"
    assert {k[len(CONFIG) :]: v for k, v in hp.items() if k.startswith(CONFIG)} == {
        "lr": 0.0003,
        "gamma": 0.9,
        "lambda": 0.95,
        "use_gae": True,
        "clip_param": 0.2,
        "entropy_coeff": 0.0,
        "num_epochs": 10,
        "use_kl_loss": False,
        "minibatch_size": 64,
        "train_batch_size_per_learner": 2048,
        "model_config": {"fcnet_hiddens": [64, 64], "fcnet_activation": "tanh", "vf_share_layers": False},
        "observation_filter": "MeanStdFilter",
    }
    assert hp[STOP + "timesteps_total"] == 204 and STOP + "training_iteration" not in hp  # a whole period
    notes = "\n".join(job.notes)
    for setting in (
        "agent_params.algorithm.clipping_decay_schedule",
        "agent_params.exploration: EGreedyParameters",
        "agent_params.network_wrappers.main.optimizer_epsilon: 1e-05",
        "agent_params.network_wrappers.main.adam_optimizer_beta2: 0.999",
        "agent_params.pre_network_filter.observation_filters.observation.normalize_observation: "
        "ObservationNormalizationFilter -> observation_filter MeanStdFilter",
        "agent_params.algorithm.distributed_coach_synchronization_type",
        "visualization_parameters.dump_gifs: True -> mp4 videos of the evaluation episodes",
        "steps_between_evaluation_periods",
        "improve_steps: TrainingSteps(3) -> stop at timesteps_total 204 environment steps",
    ):
        assert setting in notes, notes
    assert len(job.notes) == 9, notes  # nothing else: every other setting was translated
    assert job.videos and job.gifs


def test_dqn_becomes_rllib_dqn(rl_coach: None) -> None:
    job = translate(graph_manager(CARTPOLE / "preset-cartpole-dqn.py"))
    config = {k[len(CONFIG) :]: v for k, v in job.hyperparameters.items() if k.startswith(CONFIG)}
    assert job.algorithm == "DQN" and job.evaluation_episodes == 1
    assert config == {
        "lr": 0.00025,
        "gamma": 0.99,
        "double_q": False,
        "dueling": False,
        "n_step": 1,
        "train_batch_size_per_learner": 32,
        "tau": 1.0,
        "target_network_update_freq": 100,
        "td_error_loss_fn": "mse",
        "training_intensity": 32.0,
        "replay_buffer_config": {"type": "EpisodeReplayBuffer", "capacity": 40000},
        "epsilon": [[0, 1.0], [10000, 0.01]],
        "adam_epsilon": 0.0001,
        "num_steps_sampled_before_learning_starts": 1000,
        "model_config": {"fcnet_hiddens": [256, 512], "fcnet_activation": "relu"},
    }
    assert job.hyperparameters[STOP + "timesteps_total"] == 10000000000 + 1000  # improve_steps + heatup_steps
    assert not any("replace_mse_with_huber_loss" in note for note in job.notes)
    huber = graph_manager(CARTPOLE / "preset-cartpole-dqn.py")
    huber.agent_params.network_wrappers["main"].replace_mse_with_huber_loss = True
    assert translate(huber).hyperparameters[CONFIG + "td_error_loss_fn"] == "huber"


def test_an_environment_class_in_source_dir_is_the_job_s(rl_coach: None) -> None:
    job = translate(graph_manager(KNAPSACK / "preset-knapsack-clippedppo.py"))
    assert job.user_env and job.env == "knapsack_env:KnapSackMediumEnv" and job.algorithm == "PPO"


def test_an_edit_to_the_preset_changes_the_job(rl_coach: None, tmp_path: Path) -> None:
    text = (CARTPOLE / "preset-cartpole-dqn.py").read_text()
    edited = tmp_path / "preset-cartpole-dqn.py"
    edited.write_text(
        text.replace("learning_rate = 0.00025", "learning_rate = 0.001")
        .replace('level="CartPole-v0"', 'level="CartPole-v1"')
        .replace(
            "from rl_coach.agents.dqn_agent import DQNAgentParameters",
            "from rl_coach.agents.ddqn_agent import DDQNAgentParameters as DQNAgentParameters",
        )
    )
    job = translate(
        graph_manager(
            edited,
            **{
                "rl.improve_steps:EnvironmentSteps": 500,
                "rl.env_params.additional_simulator_parameters": {"sutton_barto": 1},
            },
        )
    )
    assert job.hyperparameters[CONFIG + "lr"] == 0.001 and job.hyperparameters[CONFIG + "double_q"] is True
    assert job.hyperparameters[CONFIG + "env_config"] == {"sutton_barto": 1}
    assert job.env == "CartPole-v1" and job.hyperparameters[STOP + "timesteps_total"] == 500 + 1000


@pytest.mark.parametrize("preset", ["preset-cartpole-clippedppo", "preset-cartpole-dqn"])
def test_the_translation_resolves_as_an_rlrt_job(rl_coach: None, tmp_path: Path, preset: str) -> None:
    """rlrt's own hyperparameter check (and the RLlib validator) accepts every key the translation makes."""
    job = translate(graph_manager(CARTPOLE / f"{preset}.py", **{"rl.improve_steps:TrainingSteps": 1}))
    base = tmp_path / "base.yaml"
    base.write_text(f"name: {preset}\nenv: {job.env}\nalgorithm: {job.algorithm}\nconfig: {{}}\nstop: {{}}\n")
    spec = resolve(job.hyperparameters, INSTALLED.validator_for, default_preset=str(base), num_cpus=2)
    assert spec.algorithm == job.algorithm and spec.env == "CartPole-v0" and list(spec.stop) == ["timesteps_total"]
    assert load_preset_file(base).name == preset


def test_the_batch_rl_preset_becomes_d3rlpy_discrete_bcq(rl_coach: None) -> None:
    """BatchRLGraphManager + DDQN-BCQ + CsvDataset: d3rlpy's settings from the preset's own values."""
    job = translate(graph_manager(BATCH / "preset-cartpole-ddqnbcq.py", **{"rl.agent_params.algorithm.discount": 0.9}))
    assert (job.algorithm, job.env, job.dataset, job.spaces) == ("DiscreteBCQ", "", "cartpole_dataset.csv", (4, 2))
    assert job.hyperparameters == {
        "rl.training.run": "DiscreteBCQ",
        CONFIG + "hidden_units": [256, 512],
        CONFIG + "learning_rate": 0.0001,
        CONFIG + "batch_size": 128,
        CONFIG + "gamma": 0.9,
        CONFIG + "target_update_interval": 50,
        CONFIG + "action_flexibility": 0.3,
        STOP + "epochs": 50,
        CONFIG + "q_func_factory": "mean_squared_error",
        CONFIG + "optim_factory": {"type": "adam", "params": {"eps": 0.0001, "betas": [0.9, 0.99]}},
    }
    notes = "\n".join(job.notes)
    for setting in (
        "action_drop_method_parameters: KNNParameters -> action_flexibility 0.3 (the nearest",
        "train_to_eval_ratio: 0.4 not translated",
        "reward_model_num_epochs: 30 not translated",
        "dump_gifs: True not translated",
        "improve_steps: TrainingSteps(50) -> stop at epochs 50",
        "epsilon_schedule: not used",
    ):
        assert setting in notes, notes
    assert len(job.notes) == 6 and "replace_mse_with_huber_loss" not in notes, notes
    evaluation = translate(graph_manager(BATCH / "preset-cartpole-ddqnbcq-env.py"))
    assert evaluation.env == "CartPole-v0" and evaluation.dataset is None
    edited = graph_manager(BATCH / "preset-cartpole-ddqnbcq.py")
    from rl_coach.agents.ddqn_bcq_agent import NNImitationModelParameters

    edited.agent_params.algorithm.action_drop_method_parameters = NNImitationModelParameters()
    assert translate(edited).hyperparameters[CONFIG + "action_flexibility"] == 0.35  # the same rule as d3rlpy's


def test_the_batch_rl_translation_resolves_as_an_rlrt_job(rl_coach: None, tmp_path: Path) -> None:
    """rlrt's check of d3rlpy's settings (d3rlpy builds the optimizer factory) accepts what the translation makes."""
    job = translate(graph_manager(BATCH / "preset-cartpole-ddqnbcq.py"))
    base = tmp_path / "base.yaml"
    base.write_text("name: batch\nenv: CartPole-v0\nalgorithm: DiscreteBCQ\nconfig: {}\nstop: {}\n")
    spec = resolve(job.hyperparameters, INSTALLED.validator_for, default_preset=str(base), num_cpus=2)
    assert spec.algorithm == "DiscreteBCQ" and spec.stop == {"epochs": 50}
    assert spec.config["target_update_interval"] == 50 and spec.config["q_func_factory"] == "mean_squared_error"


def test_what_rlrt_cannot_train_is_refused_naming_it(rl_coach: None) -> None:
    with pytest.raises(
        UserError,
        match=r"BatchRLGraphManager with DQNAgentParameters \(test_coach_translate\.py, line "
        r"\d+\): rlrt translates Batch RL",
    ):
        gm = graph_manager(BATCH / "preset-cartpole-ddqnbcq.py")
        from rl_coach.agents.dqn_agent import DQNAgentParameters

        gm.agent_params = DQNAgentParameters()
        translate(gm)
    with pytest.raises(UserError, match="must be a gym id or 'module:Class'"):
        gm = graph_manager(CARTPOLE / "preset-cartpole-dqn.py")
        gm.env_params.level = "knapsack_env:"
        translate(gm)
    with pytest.raises(UserError, match="heads_parameters is \\['CategoricalQHeadParameters'\\]"):
        gm = graph_manager(CARTPOLE / "preset-cartpole-dqn.py")
        from rl_coach.architectures.head_parameters import CategoricalQHeadParameters

        gm.agent_params.network_wrappers["main"].heads_parameters = [CategoricalQHeadParameters()]
        translate(gm)


def test_the_launchers_default_map_hyperparameter() -> None:
    """As SageMaker RL's: ``rl.*`` goes to the graph manager; rlrt's own top-level names pass through to rlrt's job;
    anything else is an error naming it (a script maps its own shortcut names first)."""
    launcher = SageMakerCoachPresetLauncher()
    launcher.map_hyperparameter("rl.agent_params.algorithm.discount", 0.9)
    launcher.map_hyperparameter("seed", 3)
    assert launcher.hyperparameters.hp_dict == {"rl.agent_params.algorithm.discount": 0.9}
    assert launcher.rlrt_hyperparameters == {"seed": 3}
    with pytest.raises(UserError, match="Unknown hyperparameter discount"):
        launcher.map_hyperparameter("discount", 0.9)


def test_the_launcher_applies_the_jobs_hyperparameters_through_the_script(
    rl_coach: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example's own train-coach.py maps ``improve_steps`` to ``rl.improve_steps:TrainingSteps``; an ``rl.*``
    name the graph manager does not hold fails naming it."""
    (tmp_path / "preset-cartpole-dqn.py").write_text((CARTPOLE / "preset-cartpole-dqn.py").read_text())
    script = runpy.run_path(str(CARTPOLE / "train-coach.py"), run_name="train_coach")

    class Launcher(script["MyLauncher"]):  # type: ignore[misc, valid-type]
        def path_of_main_launcher(self) -> str:
            return str(tmp_path)

    monkeypatch.setenv(
        "SM_HPS",
        json.dumps(
            {
                "RLCOACH_PRESET": "preset-cartpole-dqn",
                "improve_steps": 7,
                "discount": 0.5,
                "save_model": 1,
                "sagemaker_program": "x",
            }
        ),
    )
    job = Launcher().coach_job(tmp_path / "preset-cartpole-dqn.py")
    assert job.hyperparameters[STOP + "timesteps_total"] == 7 + 1000 and job.hyperparameters[CONFIG + "gamma"] == 0.5
    monkeypatch.setenv("SM_HPS", json.dumps({"rl.training.config.lr": 0.1}))
    with pytest.raises(
        UserError, match="The hyperparameter rl.training.config.lr names nothing the preset's graph manager holds"
    ):
        Launcher().coach_job(tmp_path / "preset-cartpole-dqn.py")
