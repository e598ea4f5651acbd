"""A Unity game with several agents (and behaviors) as a multi-agent environment in RLlib's conventions (dicts keyed by
agent id, ``"__all__"`` in the done flags, ``possible_agents``, per-agent spaces), without RLlib: the RLlib backend
makes it an RLlib ``MultiAgentEnv`` (``runtime.backends.rllib.multi_agent_env``).

Agent ids are ``"<behavior>_<agent_id>"`` (the scheme of RLlib's ``Unity3DEnv``), e.g. ``"3DBall?team=0_7"``;
:func:`behavior_of` maps one back to its behavior, which is the policy (module) id when every behavior gets its own
policy.

Episodes: Unity agents end episodes independently and restart by themselves. An RLlib multi-agent episode cannot
take an agent back once it is done, so an agent whose Unity episode ends (terminal step: ``terminated``, or
``truncated`` when Unity interrupted it at ``MaxStep``) is done for the RLlib episode; until every agent is done its
next Unity episode runs on zero actions and is not reported. When all agents are done (or ``max_episode_steps``
truncates the rest) the RLlib episode ends, and :meth:`reset` resets the whole scene.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import gymnasium as gym

from envs.unity import spaces
from envs.unity.config import UnityConfig
from envs.unity.game import find_player
from envs.unity.session import UnitySession

log = logging.getLogger(__name__)


def agent_key(behavior: str, agent_id: int) -> str:
    """The RLlib agent id of Unity agent ``agent_id`` of ``behavior``."""
    return f"{behavior}_{int(agent_id)}"


def behavior_of(agent: str) -> str:
    """The behavior name of an RLlib agent id made by :func:`agent_key`."""
    return agent.rsplit("_", 1)[0]


class UnityMultiAgentEnv(gym.Env):
    """Every agent of every behavior of a Unity game; ``env_config`` keys: :class:`UnityConfig` plus
    ``max_episode_steps`` (truncate the RLlib episode after this many steps). A gymnasium ``Env`` as RLlib's
    ``MultiAgentEnv`` is, with dicts by agent id in ``reset`` and ``step``."""

    # None, as in RLlib's MultiAgentEnv: each agent has its own (observation_spaces, get_observation_space).
    observation_space = None  # type: ignore[assignment]
    action_space = None  # type: ignore[assignment]

    def __init__(self, env_config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        env_config = dict(env_config or {})
        self.max_episode_steps = env_config.pop("max_episode_steps", None)
        self.config = UnityConfig.from_mapping(env_config)
        self.session = UnitySession.launch(self.config, find_player(self.config))
        try:
            self.behavior_specs = dict(self.session.env.behavior_specs)
            self.behavior_spaces = {
                name: (spaces.observation_space(spec), spaces.action_space(spec))
                for name, spec in self.behavior_specs.items()
            }
            # Which agents exist is only known once the scene runs: reset it once now.
            first_obs = self._reset_scene()
        except BaseException:
            self.session.close()
            raise
        self.possible_agents = sorted(first_obs)
        self.agents = list(self.possible_agents)
        self.observation_spaces = {a: self.behavior_spaces[behavior_of(a)][0] for a in self.possible_agents}
        self.action_spaces = {a: self.behavior_spaces[behavior_of(a)][1] for a in self.possible_agents}
        self._first_obs: dict[str, Any] | None = first_obs
        self._done: set[str] = set()
        self._steps = 0

    # Agents that appear later (spawned by the game) get their behavior's spaces.
    def get_observation_space(self, agent_id: str) -> gym.Space:
        return self.behavior_spaces[behavior_of(agent_id)][0]

    def get_action_space(self, agent_id: str) -> gym.Space:
        return self.behavior_spaces[behavior_of(agent_id)][1]

    def _reset_scene(self) -> dict[str, Any]:
        self.session.call("reset", self.session.env.reset)
        obs: dict[str, Any] = {}
        for _ in range(1000):
            for behavior in self.behavior_specs:
                decision, _terminal = self.session.env.get_steps(behavior)
                for index, agent_id in enumerate(decision.agent_id):
                    obs[agent_key(behavior, agent_id)] = spaces.observation_at(decision.obs, index)
            if obs:
                return obs
            self.session.call("step", self.session.env.step)
        raise RuntimeError("the Unity game's agents requested no decision in 1000 steps after a reset")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        if self._first_obs is not None:
            obs, self._first_obs = self._first_obs, None
        else:
            obs = self._reset_scene()
        self._done = set()
        self._steps = 0
        self.agents = sorted(obs)
        return obs, {}

    def step(self, action_dict: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        env = self.session.env
        for behavior, spec in self.behavior_specs.items():
            decision, _terminal = env.get_steps(behavior)
            if len(decision):
                actions = [action_dict.get(agent_key(behavior, agent_id)) for agent_id in decision.agent_id]
                env.set_actions(behavior, spaces.action_tuple(spec, actions))
        self.session.call("step", env.step)
        self._steps += 1
        obs: dict[str, Any] = {}
        rewards: dict[str, float] = {}
        terminateds: dict[str, bool] = {}
        truncateds: dict[str, bool] = {}
        infos: dict[str, Any] = {}
        for behavior in self.behavior_specs:
            decision, terminal = env.get_steps(behavior)
            for index, agent_id in enumerate(terminal.agent_id):
                key = agent_key(behavior, agent_id)
                if key in self._done:
                    continue
                interrupted = bool(terminal.interrupted[index])
                obs[key] = spaces.observation_at(terminal.obs, index)
                rewards[key] = float(terminal.reward[index] + terminal.group_reward[index])
                terminateds[key] = not interrupted
                truncateds[key] = interrupted
                infos[key] = {"interrupted": interrupted}
                self._done.add(key)
            for index, agent_id in enumerate(decision.agent_id):
                key = agent_key(behavior, agent_id)
                if key in self._done:
                    continue  # finished its RLlib episode (perhaps in this very step); idles until the scene resets
                obs[key] = spaces.observation_at(decision.obs, index)
                rewards[key] = float(decision.reward[index] + decision.group_reward[index])
                terminateds[key] = False
                truncateds[key] = False
        self.agents = sorted({a for a in [*self.agents, *obs] if a not in self._done})
        limit = self.max_episode_steps
        horizon = bool(self.agents) and limit is not None and self._steps >= int(limit)
        if horizon:
            for key in self.agents:
                if key in obs:
                    truncateds[key] = True
            self.agents = []
        # Every agent is done: each finished by itself (its own flags say how), or the horizon cut the rest.
        terminateds["__all__"] = not self.agents and not horizon
        truncateds["__all__"] = horizon
        return obs, rewards, terminateds, truncateds, infos

    def close(self) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            session.close()


def make_unity_multi_agent_env(env_config: Mapping[str, Any] | None = None) -> UnityMultiAgentEnv:
    """Entry point for :func:`envs.registry.make_env`: a :class:`UnityMultiAgentEnv` from ``env_config``."""
    return UnityMultiAgentEnv(env_config)
