"""RLlib 1.x's ``exploration_config`` in RLlib 2.x terms, where RLlib 2.x's new API stack explores the same way.

RLlib 2.x has no exploration objects: PPO, APPO, IMPALA and SAC sample their actions from the policy's
distribution (RLlib 1.x's ``StochasticSampling``, their default there), and DQN takes an ``epsilon`` schedule (RLlib
1.x's ``EpsilonGreedy``). Anything else (Ornstein-Uhlenbeck noise, curiosity, ``random_timesteps``) has no
counterpart and stays refused by the check (:mod:`runtime.backends.rllib.no_effect`).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

SAMPLES_FROM_ITS_POLICY = ("PPO", "APPO", "IMPALA", "SAC")
"""The algorithms whose RLlib 2.x module samples its actions, as RLlib 1.x's ``StochasticSampling`` did."""
EPSILON_GREEDY_DEFAULTS: Mapping[str, Any] = {"initial_epsilon": 1.0, "final_epsilon": 0.02, "epsilon_timesteps": 10000}
"""RLlib 1.x DQN's own ``EpsilonGreedy`` settings, which a script's partial ``exploration_config`` was merged into."""


def _kind(config: Mapping[str, Any]) -> str:
    return str(config.get("type", "")).rsplit(".", 1)[-1]


def translate_exploration(algorithm: str, config: Any) -> tuple[dict[str, Any], str] | None:
    """``exploration_config`` as (RLlib 2.x settings, the line that says so), or None when RLlib 2.x has no
    equivalent (the key is then left for the check to refuse)."""
    if isinstance(config, str):  # a SageMaker hyperparameter: JSON text
        try:
            config = json.loads(config)
        except ValueError:
            return None
    if not isinstance(config, dict):
        return None
    kind, typed = _kind(config), json.dumps(config, default=str)
    if (
        kind == "StochasticSampling"
        and algorithm in SAMPLES_FROM_ITS_POLICY
        and not config.get("random_timesteps")
        and set(config) <= {"type", "random_timesteps"}
    ):
        return {}, (
            f"rl.training.config.exploration_config={typed}: RLlib 2.x's {algorithm} samples its actions "
            "from the policy's distribution, as this did in RLlib 1.x; ignored"
        )
    if (
        kind == "EpsilonGreedy"
        and algorithm == "DQN"
        and set(config) <= {"type", *EPSILON_GREEDY_DEFAULTS}
        and not config.get("warmup_timesteps")
    ):
        settings = {**EPSILON_GREEDY_DEFAULTS, **{k: v for k, v in config.items() if k != "type"}}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in settings.values()):
            return None
        schedule = [
            [0, float(settings["initial_epsilon"])],
            [int(settings["epsilon_timesteps"]), float(settings["final_epsilon"])],
        ]
        return {"epsilon": schedule}, (
            f"rl.training.config.exploration_config={typed}: RLlib 2.x's DQN takes it as epsilon={json.dumps(schedule)}"
        )
    return None
