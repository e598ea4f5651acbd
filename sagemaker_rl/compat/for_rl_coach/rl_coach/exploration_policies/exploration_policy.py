"""``rl_coach.exploration_policies.exploration_policy``: the base of exploration parameters."""

from __future__ import annotations

from rl_coach.base_parameters import Parameters


class ExplorationParameters(Parameters):
    def __init__(self) -> None:
        self.action_space = None
