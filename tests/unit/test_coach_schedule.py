"""Each shared Coach example's schedule, as its notebook launches it, stops rlrt after the environment steps Coach
itself would have played (within one rlrt batch). Coach's budget is worked out here from the preset's own values by
the rules of Coach's graph manager, not by rlrt's translation: ``improve`` plays evaluation periods of
``steps_between_evaluation_periods``, each one ``act(EnvironmentSteps(1)); train()`` per environment step (so one
``TrainingSteps`` per environment step), and checks ``improve_steps`` after each period; ``heatup_steps`` are played
before, in their own phase."""

from __future__ import annotations

import io
import runpy
from pathlib import Path
from typing import Any

import pytest

from runtime.evaluate.evaluator import evaluate_policy
from sagemaker_rl.coach_launcher import CoachConfigurationList, SageMakerCoachPresetLauncher
from sagemaker_rl.coach_translate import translate
from tests.unit.test_rl_coach_params import CARTPOLE, KNAPSACK, MOUNTAIN_CAR, rl_coach  # noqa: F401 - the fixture

CONFIG, STOP = "rl.training.config.", "rl.training.stop."

NOTEBOOK_CARTPOLE = {
    "rl.agent_params.algorithm.discount": 0.9,
    "rl.evaluation_steps:EnvironmentEpisodes": 8,
    "improve_steps": 10000,
    "save_model": 1,
}
NOTEBOOK_MOUNTAIN_CAR = {
    "discount": 0.995,
    "gae_lambda": 0.997,
    "evaluation_episodes": 3,
    "improve_steps": 100000,
    "training_freq_env_steps": 75000,
    "training_learning_rate": 0.004,
    "training_batch_size": 256,
    "training_epochs": 15,
    "save_model": 1,
}
NOTEBOOK_KNAPSACK = {"rl.agent_params.algorithm.discount": 0.9, "rl.evaluation_steps:EnvironmentEpisodes": 8}

EXAMPLES = [  # (source_dir, preset, the notebook's hyperparameters, Coach's training steps by the notebook's text)
    (CARTPOLE, "preset-cartpole-clippedppo", NOTEBOOK_CARTPOLE, 10000),
    (CARTPOLE, "preset-cartpole-dqn", {**NOTEBOOK_CARTPOLE}, 10000),
    (KNAPSACK, "preset-knapsack-clippedppo", NOTEBOOK_KNAPSACK, 100000),
    (MOUNTAIN_CAR, "preset-mountain-car-continuous-clipped-ppo", NOTEBOOK_MOUNTAIN_CAR, 100000),
    (MOUNTAIN_CAR, "preset-mountain-car-dqn", {}, 100000),  # the notebook's alternative, the preset's own schedule
]


def launched(source_dir: Path, preset: str, hyperparameters: dict[str, Any]) -> Any:
    """The preset's graph manager with the notebook's hyperparameters mapped by the example's own train-coach.py."""
    if all(name.startswith("rl.") for name in hyperparameters):
        # The knapsack script imports its environment's module first; rl.* names map the same in any launcher.
        launcher = SageMakerCoachPresetLauncher()
    else:
        launcher = runpy.run_path(str(source_dir / "train-coach.py"), run_name="train_coach")["MyLauncher"]()
    launcher.hyperparameters, launcher.rlrt_hyperparameters = CoachConfigurationList(), {}
    for name, value in hyperparameters.items():
        launcher.map_hyperparameter(name, value)
    built = runpy.run_path(str(source_dir / f"{preset}.py"))["graph_manager"]
    launcher.hyperparameters.apply_subset(built, "rl.")
    return built


def coach_environment_steps(gm: Any) -> int:
    """The environment steps Coach's heatup and improve loop played (the least, where a period counts episodes)."""
    improve, between, heatup = gm.improve_steps, gm.steps_between_evaluation_periods, gm.heatup_steps
    assert type(improve).__name__ in ("TrainingSteps", "EnvironmentSteps")
    played = 0
    per_period = between.num_steps if type(between).__name__ == "EnvironmentSteps" else 1  # an episode: >= 1 step
    while played < improve.num_steps:  # TrainingSteps and EnvironmentSteps advance together, one per env step
        periods = max(1, (improve.num_steps - played) // per_period)  # many periods at once: 10^10 steps are fine
        played += periods * per_period
    heated = heatup.num_steps if type(heatup).__name__ == "EnvironmentSteps" else 0
    return heated + played


def rllib_iteration_steps(algorithm: str, config: dict[str, Any]) -> int:
    """What one RLlib iteration samples: PPO its train batch, DQN ``min_sample_timesteps_per_iteration`` (1000)."""
    return 1000 if algorithm == "DQN" else int(config["train_batch_size_per_learner"])


@pytest.mark.parametrize(
    ("source_dir", "preset", "hyperparameters", "improve"), EXAMPLES, ids=[example[1] for example in EXAMPLES]
)
def test_the_stop_is_the_environment_steps_coach_played(
    rl_coach: None, source_dir: Path, preset: str, hyperparameters: dict[str, Any], improve: int
) -> None:
    gm = launched(source_dir, preset, hyperparameters)
    assert gm.improve_steps.num_steps == improve
    coach = coach_environment_steps(gm)
    job = translate(gm)
    config = {k[len(CONFIG) :]: v for k, v in job.hyperparameters.items() if k.startswith(CONFIG)}
    batch = rllib_iteration_steps(job.algorithm, config)
    stops = {k[len(STOP) :]: v for k, v in job.hyperparameters.items() if k.startswith(STOP)}
    assert list(stops) == ["timesteps_total"], stops
    rlrt = -(-stops["timesteps_total"] // batch) * batch  # RLlib stops after the iteration that crosses the stop
    assert coach <= rlrt < coach + batch, (coach, rlrt, batch)
    line = next(note for note in job.notes if note.startswith("improve_steps: "))
    assert f"stop at timesteps_total {stops['timesteps_total']} environment steps" in line
    assert f"= {rlrt // batch} rlrt iterations of {batch} environment steps" in line


def test_the_notebooks_cartpole_job_plays_coachs_10200_steps(rl_coach: None) -> None:
    """The CartPole notebook's Clipped PPO job: 10,000 training steps are 50 evaluation periods of 204 environment
    steps (10,200), 5 iterations of 2,048; not 10,000 iterations (20.48M steps)."""
    job = translate(launched(CARTPOLE, "preset-cartpole-clippedppo", NOTEBOOK_CARTPOLE))
    assert job.hyperparameters[STOP + "timesteps_total"] == 10200
    assert (
        "improve_steps: TrainingSteps(10000) -> stop at timesteps_total 10200 environment steps (Coach counted "
        "one training step per environment step: 10200, 50 evaluation periods of EnvironmentSteps(204)) = 5 rlrt "
        "iterations of 2048 environment steps" in job.notes
    )


def test_episodes_and_time_keep_their_units(rl_coach: None) -> None:
    """The Mountain Car preset's own ``EnvironmentEpisodes(100)`` in periods of 10 episodes stops at 100 episodes;
    ``Time`` stays seconds; a period that counts another unit leaves the count as given."""
    preset = "preset-mountain-car-continuous-clipped-ppo"
    assert translate(launched(MOUNTAIN_CAR, preset, {})).hyperparameters[STOP + "episodes_total"] == 100
    gm = launched(MOUNTAIN_CAR, preset, {"rl.improve_steps:EnvironmentEpisodes": 95})
    assert translate(gm).hyperparameters[STOP + "episodes_total"] == 100  # ten whole periods of 10 episodes
    gm = launched(MOUNTAIN_CAR, preset, {"rl.improve_steps:Time": 60})
    assert translate(gm).hyperparameters[STOP + "time_total_s"] == 60


def test_an_evaluation_counted_in_steps_plays_whole_episodes_to_that_count(rl_coach: None) -> None:
    """Coach's evaluate(): at least n environment steps, the episode that crosses them played to its end."""
    gm = launched(CARTPOLE, "preset-cartpole-clippedppo", {"rl.evaluation_steps:EnvironmentSteps": 300})
    job = translate(gm)
    assert (job.evaluation_steps, job.evaluation_episodes) == (300, 0)
    assert not any(note.startswith("evaluation_steps") for note in job.notes)


def test_the_exported_policy_is_played_for_at_least_the_steps(tmp_path: Path) -> None:
    out = io.StringIO()
    result = evaluate_policy(lambda observation: 0, "CartPole-v1", None, 1, tmp_path, out, steps=30)
    assert sum(result.lengths[:-1]) < 30 <= sum(result.lengths), result.lengths
    assert "for 30 steps (whole episodes)" in out.getvalue()
