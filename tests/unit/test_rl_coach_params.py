"""rlrt's ``rl_coach`` compatibility package (Coach's parameter API, no engine): the SageMaker RL Coach examples'
preset files (../shared/coach, byte-for-byte users' files) run unchanged and build a ``graph_manager`` holding what
they set, and Coach's defaults where they set nothing; their ``train-coach.py`` / ``evaluate-coach.py`` import;
SageMaker RL's ``rl.*`` hyperparameter path sets the graph manager's attributes."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from runtime.errors import UserError
from sagemaker_rl import compat
from sagemaker_rl.coach_launcher import CoachConfigurationList
from sagemaker_rl.compat.coach_steps import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from tests.conftest import REPO_ROOT, TEST_ENV

COACH = REPO_ROOT.parent / "shared" / "coach"
CARTPOLE, BATCH = COACH / "rl_cartpole_coach" / "src", COACH / "rl_cartpole_batch_coach" / "src"
MOUNTAIN_CAR, KNAPSACK = COACH / "rl_mountain_car_coach_gymEnv" / "src", COACH / "rl_knapsack_coach_custom" / "src"
PRESETS = sorted(COACH.glob("*/src/preset*.py"))
MAIN = "agent_params.network_wrappers.main"


@pytest.fixture
def rl_coach() -> Iterator[None]:
    """The compatibility folder on ``sys.path`` for one test; ``rl_coach`` is forgotten afterwards."""
    folder = str(compat.folder("rl_coach"))
    sys.path.append(folder)
    try:
        yield
    finally:
        sys.path.remove(folder)
        for name in [m for m in sys.modules if m == "rl_coach" or m.startswith("rl_coach.")]:
            del sys.modules[name]


def graph_manager(preset: Path) -> Any:
    return runpy.run_path(str(preset))["graph_manager"]


def value(obj: Any, path: str) -> Any:
    """``a.b.c`` under ``obj``, entering dicts by key (``network_wrappers.main``)."""
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def schedule(obj: Any) -> tuple[str, float, float, int]:
    return type(obj).__name__, obj.initial_value, obj.final_value, obj.decay_steps


def check(gm: Any, expected: dict[str, Any]) -> None:
    wrong = {path: value(gm, path) for path, want in expected.items() if value(gm, path) != want}
    assert not wrong, f"expected { ({p: expected[p] for p in wrong}) }, got {wrong}"


def test_the_four_examples_hold_seven_preset_files() -> None:
    assert len(PRESETS) == 7, PRESETS  # the tests below name each


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_every_preset_runs_unchanged_and_imports_no_engine(preset: Path, rl_coach: None) -> None:
    before = set(sys.modules)
    gm = graph_manager(preset)
    assert type(gm).__name__ in ("BasicRLGraphManager", "BatchRLGraphManager")
    assert gm.agent_params.visualization is gm.visualization_parameters  # Coach's graph manager hands it on
    assert gm.visualization_parameters.dump_gifs is True and gm.preset_validation_params.test is True
    assert not {m.split(".")[0] for m in set(sys.modules) - before} & {"tensorflow", "mxnet", "torch", "ray"}


def test_clipped_ppo_cartpole(rl_coach: None) -> None:
    from rl_coach.architectures.layers import Dense
    from rl_coach.base_parameters import DistributedCoachSynchronizationType, EmbedderScheme
    from rl_coach.exploration_policies.e_greedy import EGreedyParameters
    from rl_coach.filters.observation.observation_normalization_filter import ObservationNormalizationFilter
    from rl_coach.memories.memory import MemoryGranularity

    gm = graph_manager(CARTPOLE / "preset-cartpole-clippedppo.py")
    check(
        gm,
        {
            "improve_steps": TrainingSteps(10000),
            "steps_between_evaluation_periods": EnvironmentSteps(204),
            "evaluation_steps": EnvironmentEpisodes(5),
            "heatup_steps": EnvironmentSteps(0),
            "env_params.level": "CartPole-v0",
            f"{MAIN}.learning_rate": 0.0003,
            f"{MAIN}.batch_size": 64,
            f"{MAIN}.optimizer_epsilon": 1e-5,
            f"{MAIN}.adam_optimizer_beta2": 0.999,
            f"{MAIN}.input_embedders_parameters.observation.scheme": [Dense(64)],
            f"{MAIN}.input_embedders_parameters.observation.activation_function": "tanh",
            f"{MAIN}.middleware_parameters.scheme": [Dense(64)],
            f"{MAIN}.middleware_parameters.activation_function": "tanh",
            "agent_params.algorithm.clip_likelihood_ratio_using_epsilon": 0.2,
            "agent_params.algorithm.beta_entropy": 0,
            "agent_params.algorithm.gae_lambda": 0.95,
            "agent_params.algorithm.discount": 0.99,
            "agent_params.algorithm.optimization_epochs": 10,
            "agent_params.algorithm.estimate_state_value_using_gae": True,
            "agent_params.algorithm.num_steps_between_copying_online_weights_to_target": EnvironmentSteps(2048),
            "agent_params.algorithm.distributed_coach_synchronization_type": DistributedCoachSynchronizationType.SYNC,
            "preset_validation_params.min_reward_threshold": 150,
            "preset_validation_params.max_episodes_to_achieve_reward": 400,
            # Coach's defaults, rl_coach/agents/clipped_ppo_agent.py (ClippedPPOAlgorithmParameters,
            # ...NetworkParameters)
            "agent_params.algorithm.num_consecutive_playing_steps": EnvironmentSteps(2048),
            "agent_params.algorithm.num_episodes_in_experience_replay": 1000000,
            "agent_params.algorithm.use_kl_regularization": False,
            "agent_params.algorithm.act_for_full_episodes": True,
            f"{MAIN}.create_target_network": True,
            f"{MAIN}.use_separate_networks_per_head": True,
            # rl_coach/base_parameters.py (NetworkParameters, VisualizationParameters)
            f"{MAIN}.adam_optimizer_beta1": 0.9,
            f"{MAIN}.clip_gradients": None,
            "visualization_parameters.dump_csv": True,
            # rl_coach/architectures/embedder_parameters.py (InputEmbedderParameters)
            f"{MAIN}.input_embedders_parameters.observation.dropout_rate": 0.0,
            # rl_coach/memories/episodic/episodic_experience_replay.py
            "agent_params.memory.max_size": (MemoryGranularity.Transitions, 1000000),
            "agent_params.memory.train_to_eval_ratio": 1,
            # rl_coach/environments/gym_environment.py (GymVectorEnvironment)
            "env_params.frame_skip": 1,
            "env_params.additional_simulator_parameters": {},
            "name": "simple_rl_graph",
            "is_batch_rl": False,
        },
    )
    algorithm = gm.agent_params.algorithm
    assert schedule(algorithm.clipping_decay_schedule) == ("LinearSchedule", 1.0, 0, 1000000)
    assert [type(h).__name__ for h in gm.agent_params.network_wrappers["main"].heads_parameters] == [
        "VHeadParameters",
        "PPOHeadParameters",
    ]
    assert isinstance(gm.agent_params.exploration, EGreedyParameters)
    assert schedule(gm.agent_params.exploration.epsilon_schedule) == ("LinearSchedule", 1.0, 0.01, 10000)
    assert gm.agent_params.exploration.evaluation_epsilon == 0.05  # rl_coach/exploration_policies/e_greedy.py
    normalize = gm.agent_params.pre_network_filter.observation_filters["observation"]["normalize_observation"]
    assert isinstance(normalize, ObservationNormalizationFilter) and normalize.name == "normalize_observation"
    assert (normalize.clip_min, normalize.clip_max) == (-5.0, 5.0)  # observation_normalization_filter.py
    # No filters set: the environment's (none for a vector gym env), as Coach's BasicRLGraphManager gave them.
    assert type(gm.agent_params.input_filter).__name__ == "NoInputFilter"
    assert type(gm.agent_params.output_filter).__name__ == "NoOutputFilter"
    assert gm.agent_params.input_filter is not gm.env_params.default_input_filter  # a copy, as Coach made
    assert EmbedderScheme.Medium.value == "Medium"


def test_dqn_cartpole_keeps_dqns_defaults(rl_coach: None) -> None:
    from rl_coach.base_parameters import EmbedderScheme, MiddlewareScheme
    from rl_coach.memories.memory import MemoryGranularity

    gm = graph_manager(CARTPOLE / "preset-cartpole-dqn.py")
    check(
        gm,
        {
            "improve_steps": TrainingSteps(10000000000),
            "steps_between_evaluation_periods": EnvironmentEpisodes(10),
            "evaluation_steps": EnvironmentEpisodes(1),
            "heatup_steps": EnvironmentSteps(1000),
            "agent_params.algorithm.num_steps_between_copying_online_weights_to_target": EnvironmentSteps(100),
            "agent_params.algorithm.discount": 0.99,
            "agent_params.algorithm.num_consecutive_playing_steps": EnvironmentSteps(1),
            f"{MAIN}.learning_rate": 0.00025,
            f"{MAIN}.replace_mse_with_huber_loss": False,
            "agent_params.memory.max_size": (MemoryGranularity.Transitions, 40000),
            "preset_validation_params.max_episodes_to_achieve_reward": 250,
            # rl_coach/agents/dqn_agent.py (DQNNetworkParameters, DQNAgentParameters)
            f"{MAIN}.batch_size": 32,
            f"{MAIN}.create_target_network": True,
            f"{MAIN}.optimizer_type": "Adam",
            f"{MAIN}.middleware_parameters.scheme": MiddlewareScheme.Medium,
            "agent_params.exploration.evaluation_epsilon": 0.05,
            "agent_params.algorithm.supports_parameter_noise": True,
            # rl_coach/architectures/embedder_parameters.py
            f"{MAIN}.input_embedders_parameters.observation.scheme": EmbedderScheme.Medium,
            f"{MAIN}.input_embedders_parameters.observation.activation_function": "relu",
            # rl_coach/memories/non_episodic/experience_replay.py
            "agent_params.memory.allow_duplicates_in_batch_sampling": True,
            # rl_coach/base_parameters.py (AlgorithmParameters)
            "agent_params.algorithm.n_step": -1,
            "agent_params.algorithm.distributed_coach_synchronization_type": None,
        },
    )
    assert schedule(gm.agent_params.exploration.epsilon_schedule) == ("LinearSchedule", 1.0, 0.01, 10000)
    assert [type(h).__name__ for h in gm.agent_params.network_wrappers["main"].heads_parameters] == ["QHeadParameters"]
    assert type(gm.agent_params.memory).__name__ == "ExperienceReplayParameters"


def test_mountain_car_presets(rl_coach: None) -> None:
    from rl_coach.architectures.layers import Dense
    from rl_coach.base_parameters import EmbedderScheme, MiddlewareScheme
    from rl_coach.core_types import MaxDumpFilter, RunPhase, SelectedPhaseOnlyDumpFilter
    from rl_coach.memories.memory import MemoryGranularity
    from rl_coach.spaces import BoxActionSpace, DiscreteActionSpace

    gm = graph_manager(MOUNTAIN_CAR / "preset-mountain-car-continuous-clipped-ppo.py")
    check(
        gm,
        {
            "improve_steps": EnvironmentEpisodes(100),
            "steps_between_evaluation_periods": EnvironmentEpisodes(10),
            "evaluation_steps": EnvironmentEpisodes(1),
            "heatup_steps": EnvironmentEpisodes(10),
            "env_params.level": "patient_envs:PatientContinuousMountainCar",
            f"{MAIN}.learning_rate": 0.001,
            f"{MAIN}.batch_size": 256,
            f"{MAIN}.input_embedders_parameters.observation.scheme": [Dense(32)],
            f"{MAIN}.middleware_parameters.scheme": [Dense(32)],
            "agent_params.algorithm.clip_likelihood_ratio_using_epsilon": 0.3,
            "agent_params.algorithm.discount": 0.999,
            "agent_params.algorithm.num_steps_between_copying_online_weights_to_target": EnvironmentEpisodes(10),
            "agent_params.algorithm.num_episodes_in_experience_replay": 100,
            "agent_params.algorithm.num_consecutive_playing_steps": EnvironmentEpisodes(10),
            # Coach's default: rl_coach/agents/clipped_ppo_agent.py
            "agent_params.algorithm.policy_gradient_rescaler.name": "GAE",
        },
    )
    assert schedule(gm.agent_params.algorithm.clipping_decay_schedule) == ("LinearSchedule", 0.5, 0.1, 500000)
    # Not set: Clipped PPO's exploration per action space (clipped_ppo_agent.py), additive noise's defaults
    # (rl_coach/exploration_policies/additive_noise.py).
    exploration = gm.agent_params.exploration
    assert {k: type(v).__name__ for k, v in exploration.items()} == {
        DiscreteActionSpace: "CategoricalParameters",
        BoxActionSpace: "AdditiveNoiseParameters",
    }
    noise = exploration[BoxActionSpace]
    assert schedule(noise.noise_schedule) == ("LinearSchedule", 0.1, 0.1, 50000) and noise.evaluation_noise == 0.05
    dump = gm.visualization_parameters.video_dump_filters
    assert [type(f) for f in dump] == [SelectedPhaseOnlyDumpFilter, MaxDumpFilter]
    assert dump[0].run_phases == [RunPhase.TEST]

    gm = graph_manager(MOUNTAIN_CAR / "preset-mountain-car-dqn.py")
    check(
        gm,
        {
            "heatup_steps": EnvironmentSteps(50000),
            "improve_steps": TrainingSteps(100000),
            "env_params.level": "patient_envs:PatientMountainCar",
            f"{MAIN}.input_embedders_parameters.observation.scheme": EmbedderScheme.Shallow,
            f"{MAIN}.middleware_parameters.scheme": MiddlewareScheme.Shallow,
            "agent_params.memory.max_size": (MemoryGranularity.Transitions, 50000),
            "agent_params.algorithm.num_steps_between_copying_online_weights_to_target": EnvironmentSteps(500),
            "preset_validation_params.min_reward_threshold": -200,
            "preset_validation_params.max_episodes_to_achieve_reward": 125,
        },
    )
    assert schedule(gm.agent_params.exploration.epsilon_schedule) == ("LinearSchedule", 1.0, 0.05, 100000)


def test_knapsack_clipped_ppo(rl_coach: None) -> None:
    gm = graph_manager(KNAPSACK / "preset-knapsack-clippedppo.py")
    check(
        gm,
        {
            "env_params.level": "knapsack_env:KnapSackMediumEnv",
            "improve_steps": TrainingSteps(100000),
            "steps_between_evaluation_periods": EnvironmentSteps(2000),
            "agent_params.algorithm.discount": 0.99,
            "agent_params.algorithm.clip_likelihood_ratio_using_epsilon": 0.2,
            f"{MAIN}.batch_size": 64,
        },
    )


def test_batch_rl_from_a_dataset(rl_coach: None) -> None:
    from rl_coach.core_types import CsvDataset, TimeTypes

    gm = graph_manager(BATCH / "preset-cartpole-ddqnbcq.py")
    check(
        gm,
        {
            "env_params": None,
            "improve_steps": TrainingSteps(50),
            "steps_between_evaluation_periods": TrainingSteps(1),
            "reward_model_num_epochs": 30,
            "agent_params.memory.train_to_eval_ratio": 0.4,
            "agent_params.algorithm.num_steps_between_copying_online_weights_to_target": TrainingSteps(50),
            "agent_params.algorithm.discount": 0.99,
            f"{MAIN}.batch_size": 128,
            f"{MAIN}.learning_rate": 0.0001,
            f"{MAIN}.replace_mse_with_huber_loss": False,
            "agent_params.exploration.evaluation_epsilon": 0,
            "is_batch_rl": True,
            "time_metric": TimeTypes.Epoch,
            "name": "batch_rl_graph",
            # Not set: ScheduleParameters (rl_coach/graph_managers/graph_manager.py) leaves them None
            "heatup_steps": None,
            "evaluation_steps": None,
            # rl_coach/agents/ddqn_bcq_agent.py (KNNParameters), dqn_agent.py
            "agent_params.algorithm.action_drop_method_parameters.knn_size": 50000,
            "agent_params.algorithm.action_drop_method_parameters.average_dist_coefficient": 1,
            "agent_params.algorithm.action_drop_method_parameters.use_state_embedding_instead_of_state": True,
            "agent_params.algorithm.num_consecutive_playing_steps": EnvironmentSteps(4),
        },
    )
    assert schedule(gm.agent_params.exploration.epsilon_schedule) == ("LinearSchedule", 0, 0, 1)
    dataset = gm.agent_params.memory.load_memory_from_file_path
    assert isinstance(dataset, CsvDataset) and (dataset.filepath, dataset.is_episodic) == ("cartpole_dataset.csv", True)
    assert type(gm.agent_params.memory).__name__ == "EpisodicExperienceReplayParameters"
    spaces = gm.spaces_definition
    assert spaces.state["observation"].shape.tolist() == [4] and spaces.goal is None
    assert spaces.action.actions == [0, 1] and spaces.reward.shape.tolist() == [1]
    assert type(gm.agent_params.input_filter).__name__ == "NoInputFilter"  # no environment to take one from

    gm = graph_manager(BATCH / "preset-cartpole-ddqnbcq-env.py")
    check(
        gm,
        {
            "env_params.level": "CartPole-v0",
            "spaces_definition": None,
            # rl_coach/graph_managers/batch_rl_graph_manager.py (BatchRLGraphManager's arguments)
            "reward_model_num_epochs": 100,
            "agent_params.memory.train_to_eval_ratio": 0.8,
        },
    )


def test_the_launchers_hyperparameters_set_the_graph_manager(rl_coach: None) -> None:
    gm = graph_manager(KNAPSACK / "preset-knapsack-clippedppo.py")
    hyperparameters = CoachConfigurationList()
    for name, text in {
        "rl.agent_params.algorithm.discount": "0.9",
        "rl.improve_steps:TrainingSteps": "7",
        "rl.evaluation_steps:EnvironmentEpisodes": "3",
        "rl.agent_params.network_wrappers.main.learning_rate": "0.01",
        "rl.env_params.additional_simulator_parameters.warmup_latency": "2",
        "vis_params.dump_gifs": "0",
    }.items():
        hyperparameters.store(name, text)
    hyperparameters.apply_subset(gm, "rl.")
    check(
        gm,
        {
            "agent_params.algorithm.discount": 0.9,
            "improve_steps": TrainingSteps(7),
            "evaluation_steps": EnvironmentEpisodes(3),
            f"{MAIN}.learning_rate": 0.01,
            "env_params.additional_simulator_parameters": {"warmup_latency": 2},
        },
    )
    assert hyperparameters.hp_dict == {"vis_params.dump_gifs": "0"}  # another prefix's: left for it
    for name in ("rl.__class__", "rl.agent_params.__dict__.x", "rl.improve_steps:Eval"):
        hyperparameters.store(name, "1")
        with pytest.raises(ValueError, match="unsafe property|Unrecognized object type"):
            hyperparameters.apply_subset(gm, "rl.")
        hyperparameters.hp_dict.clear()


def test_parameters_are_coachs_own_checks(rl_coach: None) -> None:
    from rl_coach.agents.dqn_agent import DQNAgentParameters
    from rl_coach.base_parameters import NetworkParameters

    params = DQNAgentParameters()
    with pytest.raises(TypeError, match="Parameter 'dicsount' does not exist"):
        params.algorithm.dicsount = 0.9  # a misspelt name fails, as in Coach
    params.algorithm.register_var("extra", 1)
    assert params.algorithm.extra == 1
    # Coach's defaults were shared objects ({} and [] arguments); each network has its own here.
    assert NetworkParameters().heads_parameters is not NetworkParameters().heads_parameters
    assert NetworkParameters().input_embedders_parameters is not NetworkParameters().input_embedders_parameters
    assert TrainingSteps(5) != EnvironmentSteps(5) and TrainingSteps(10) / EnvironmentSteps(3) == 4


def test_the_engine_is_refused_with_a_clear_message(rl_coach: None) -> None:
    gm = graph_manager(CARTPOLE / "preset-cartpole-dqn.py")
    for call in (gm.improve, gm.create_graph, gm.evaluate):
        with pytest.raises(UserError, match=r"Coach's engine, which rlrt does not have"):
            call()
    gm.close()


def test_the_folder_is_installed_only_without_a_real_rl_coach(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "/compat/for_" not in p])
    assert str(compat.folder("rl_coach")) in compat.missing_folders()
    (tmp_path / "rl_coach").mkdir()
    (tmp_path / "rl_coach" / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert str(compat.folder("rl_coach")) not in compat.missing_folders()


IMPORT_SCRIPT = """
import importlib.util, sys
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher
for name in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert issubclass(module.MyLauncher, SageMakerCoachPresetLauncher), name
print(sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "mxnet", "rl_coach"}))
"""


@pytest.mark.parametrize("example", sorted(p.parent.name for p in COACH.glob("*/src")))
def test_the_examples_scripts_import(example: str) -> None:
    """In a fresh process (the scripts import their own modules: knapsack_env, gym, ...), with the compatibility
    folder at the end of PYTHONPATH as the script-mode path puts it."""
    src = COACH / example / "src"
    env = {
        **os.environ,
        **TEST_ENV,
        "PYTHONPATH": f"{REPO_ROOT}:{src}:{compat.folder('rl_coach')}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }  # nothing written into the users' folders
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT, "train-coach.py", "evaluate-coach.py"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "['rl_coach']"  # neither TensorFlow nor MXNet


def test_a_filter_added_first_goes_first_in_a_plain_dict_too(rl_coach: None) -> None:
    """Coach's reward filters are an OrderedDict, but a script may hand a plain dict (the signature takes one):
    ``add_as_the_first_filter`` must reorder either (``move_to_end`` is the OrderedDict's only)."""
    from rl_coach.filters.filter import InputFilter

    plain = InputFilter(reward_filters={"a": 1, "b": 2})
    plain.add_reward_filter("c", 3, add_as_the_first_filter=True)
    assert list(plain.reward_filters) == ["c", "a", "b"]
    ordered = InputFilter()
    ordered.add_reward_filter("a", 1)
    ordered.add_reward_filter("b", 2, add_as_the_first_filter=True)
    assert list(ordered.reward_filters) == ["b", "a"]


def test_the_schedule_and_dump_filter_bases_refuse_a_subclass_without_their_method(rl_coach: None) -> None:
    from rl_coach.core_types import VideoDumpFilter
    from rl_coach.schedules import Schedule

    class NoStep(Schedule):
        pass

    class NoRule(VideoDumpFilter):
        pass

    with pytest.raises(TypeError, match="abstract method.*step"):
        NoStep(1.0)
    with pytest.raises(TypeError, match="abstract method.*should_dump"):
        NoRule()
