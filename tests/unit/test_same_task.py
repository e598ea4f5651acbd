"""A model plays only the environment it was trained on (runtime/evaluate/same_task.py): the spaces of the env
``rlrt evaluate`` (and the seeds' evaluate-coach.py) builds are compared with the model's metadata before the first
episode; the jobs: tests/jobs/test_evaluation_jobs.py::test_evaluate_errors_are_clear."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import pytest

from runtime.errors import UserError
from runtime.evaluate.same_task import env_name, same_task
from runtime.export.model_dir import describe_space

CARTPOLE = gymnasium.make("CartPole-v1")
METADATA = {
    "env": "CartPole-v1",
    "observation_space": describe_space(CARTPOLE.observation_space),
    "action_space": describe_space(CARTPOLE.action_space),
}


@pytest.mark.parametrize("env_id", ["CartPole-v1", "CartPole-v0", "sagemaker_rl/CartPole-v1"])
def test_the_same_env_in_any_version_or_namespace_plays(env_id: str) -> None:
    same_task(Path("model"), METADATA, env_id)(CARTPOLE)


@pytest.mark.parametrize(
    "env_id, message",
    [
        (
            "Acrobot-v1",
            "not on Acrobot-v1 (observation spaces Box(4,) (model) and Box(6,) (Acrobot-v1); action spaces "
            "Discrete(2) (model) and Discrete(3) (Acrobot-v1))",
        ),
        ("MountainCar-v0", "not on MountainCar-v0 (observation spaces Box(4,) (model) and Box(2,) (MountainCar-v0); "),
    ],
)
def test_other_spaces_are_refused_naming_both(env_id: str, message: str) -> None:
    with pytest.raises(UserError, match="trained on CartPole-v1") as raised:
        same_task(Path("model"), METADATA, env_id)(gymnasium.make(env_id))
    assert message in str(raised.value) and "--set env=CartPole-v1" in str(raised.value)


def test_a_model_without_recorded_spaces_or_env_is_played() -> None:
    same_task(Path("model"), {}, "Acrobot-v1")(gymnasium.make("Acrobot-v1"))
    same_task(Path("model"), {**METADATA, "env": "Unity"}, "unity:Basic")(CARTPOLE)  # a family's id and a game's
    assert env_name("unity:Basic") == env_name("Basic") == "Basic"
    assert env_name("sagemaker_rl/RoboschoolReacher-v1") == env_name("ReacherBulletEnv-v0") == "ReacherBulletEnv"
