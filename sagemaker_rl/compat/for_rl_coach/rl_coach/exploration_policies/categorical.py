"""``rl_coach.exploration_policies.categorical``: sample the action from the policy's probabilities."""

from __future__ import annotations

from rl_coach.exploration_policies.exploration_policy import ExplorationParameters


class CategoricalParameters(ExplorationParameters):
    pass
