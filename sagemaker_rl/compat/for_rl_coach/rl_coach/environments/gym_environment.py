"""``rl_coach.environments.gym_environment``: a gym environment by id (``level="CartPole-v0"``) or by
``module:Class`` in source_dir (``level="patient_envs:PatientMountainCar"``), with the names and defaults of Coach's
``rl_coach/environments/gym_environment.py``, and its level-name tables (``mujoco_v2``, ...)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from rl_coach.environments.environment import EnvironmentParameters
from rl_coach.filters.filter import NoInputFilter, NoOutputFilter


class ObservationSpaceType(IntEnum):
    Tensor = 0
    Image = 1
    Vector = 2


class GymEnvironmentParameters(EnvironmentParameters):
    def __init__(self, level: Any = None) -> None:
        super().__init__(level=level)
        self.random_initialization_steps = 0
        self.max_over_num_frames = 1
        self.additional_simulator_parameters: dict[str, Any] = {}
        self.observation_space_type = None


class GymVectorEnvironment(GymEnvironmentParameters):
    """A gym environment with vector observations (mujoco, roboschool, bullet, users' own)."""

    def __init__(self, level: Any = None) -> None:
        super().__init__(level=level)
        self.frame_skip = 1
        self.default_input_filter = NoInputFilter()
        self.default_output_filter = NoOutputFilter()


def _camel(name: str) -> str:
    """``inverted_pendulum`` -> ``InvertedPendulum`` (Coach's ``lower_under_to_upper``)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


gym_roboschool_envs = [
    "inverted_pendulum",
    "inverted_pendulum_swingup",
    "inverted_double_pendulum",
    "reacher",
    "hopper",
    "walker2d",
    "half_cheetah",
    "ant",
    "humanoid",
    "humanoid_flagrun",
    "humanoid_flagrun_harder",
    "pong",
]
roboschool_v1 = {e: f"Roboschool{_camel(e)}-v1" for e in gym_roboschool_envs}

gym_mujoco_envs = [
    "inverted_pendulum",
    "inverted_double_pendulum",
    "reacher",
    "hopper",
    "walker2d",
    "half_cheetah",
    "ant",
    "swimmer",
    "humanoid",
    "humanoid_standup",
    "pusher",
    "thrower",
    "striker",
]
mujoco_v2 = {e: f"{_camel(e)}-v2" for e in gym_mujoco_envs}
mujoco_v2["walker2d"] = "Walker2d-v2"

gym_fetch_envs = ["reach", "slide", "push", "pick_and_place"]
fetch_v1 = {e: f"Fetch{_camel(e)}-v1" for e in gym_fetch_envs}
