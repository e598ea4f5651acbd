"""``rl_coach.environments.environment``: the base of environment parameters (Coach's
``rl_coach/environments/environment.py``)."""

from __future__ import annotations

from typing import Any

from rl_coach.base_parameters import Parameters


class EnvironmentParameters(Parameters):
    def __init__(self, level: Any = None) -> None:
        self.level = level
        self.frame_skip = 4
        self.seed = None
        self.human_control = False
        self.custom_reward_threshold = None
        self.default_input_filter = None
        self.default_output_filter = None
        self.experiment_path = None
        self.target_success_rate = 1.0
