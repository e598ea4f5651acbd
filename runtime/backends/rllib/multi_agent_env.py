"""A multi-agent environment of ``envs/`` (RLlib's conventions, no RLlib: ``envs.unity.multi_agent``) as the RLlib
``MultiAgentEnv`` that RLlib's multi-agent env runners require (they check the class)."""

from __future__ import annotations

import functools
from typing import Any


def as_rllib_multi_agent_env(env: Any) -> Any:
    """``env`` in an RLlib ``MultiAgentEnv`` that hands every call on to it."""
    return _adapter_class()(env)


@functools.lru_cache(maxsize=None)
def _adapter_class() -> type:
    """The adapter class, made once RLlib is imported (importing RLlib when this module is would cost ~4 s)."""
    from ray.rllib.env.multi_agent_env import MultiAgentEnv  # heavy: Ray and RLlib (~4 s)

    class RLlibMultiAgentEnv(MultiAgentEnv):
        """An ``envs/`` multi-agent environment as an RLlib ``MultiAgentEnv``; ``agents`` follows the inner env's."""

        def __init__(self, env: Any) -> None:
            super().__init__()
            self.env = env
            self.possible_agents = list(env.possible_agents)
            self.agents = list(env.agents)
            self.observation_spaces = env.observation_spaces
            self.action_spaces = env.action_spaces

        def get_observation_space(self, agent_id: Any) -> Any:
            return self.env.get_observation_space(agent_id)

        def get_action_space(self, agent_id: Any) -> Any:
            return self.env.get_action_space(agent_id)

        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
            result = self.env.reset(seed=seed, options=options)
            self.agents = list(self.env.agents)
            return result

        def step(self, action_dict: Any) -> Any:  # dicts by agent id (RLlib's MultiAgentEnv), not gymnasium's tuple
            result = self.env.step(action_dict)
            self.agents = list(self.env.agents)
            return result

        def close(self) -> None:
            self.env.close()

    return RLlibMultiAgentEnv
