"""A single-agent gymnasium environment over a Unity player (``mlagents_envs``' low-level API).

One behavior, one agent. Steps follow ML-Agents' semantics: the reward of a step is what the agent earned since its
last decision; an agent in ``TerminalSteps`` ended its episode, ``interrupted`` (Unity's ``MaxStep``) -> truncated,
otherwise terminated. A Unity agent starts its next episode by itself, often in the same step (it then appears in
both ``TerminalSteps`` and ``DecisionSteps``): that first observation is kept and :meth:`reset` returns it without
resetting the whole scene. Steps in which the agent requests no decision (a decision period > 1) are stepped
through, their rewards added.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import gymnasium as gym

from envs.errors import EnvConfigError
from envs.unity import spaces
from envs.unity.config import UnityConfig
from envs.unity.game import find_player
from envs.unity.session import UnityPlayerError, UnitySession

log = logging.getLogger(__name__)

MAX_SKIPPED_STEPS = 10_000
"""How many steps without a decision request from our agent before giving up (a stuck game)."""


class UnityGymEnv(gym.Env):
    """A Unity game with one agent as a gymnasium environment; ``env_config`` keys: :class:`UnityConfig`."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self, env_config: Mapping[str, Any] | None = None, session: UnitySession | None = None, **kwargs: Any
    ) -> None:
        """Launch the game ``env_config`` names, or drive an already launched ``session`` (a ``UnityEnvironment``
        the user's code started, as gym_unity's ``UnityToGymWrapper`` took it)."""
        self.config = UnityConfig.from_mapping({**dict(env_config or {}), **kwargs})
        self.session = session if session is not None else UnitySession.launch(self.config, find_player(self.config))
        try:
            specs = dict(self.session.env.behavior_specs)
            self.behavior_name = self._pick_behavior(specs)
            self.behavior_spec = specs[self.behavior_name]
            self.observation_space = spaces.observation_space(self.behavior_spec)
            self.action_space = spaces.action_space(self.behavior_spec)
        except BaseException:
            self.session.close()
            raise
        self._pending_obs: Any = None
        self._episode_over = True

    def _pick_behavior(self, specs: Mapping[str, Any]) -> str:
        if self.config.behavior_name is not None:
            if self.config.behavior_name not in specs:
                raise EnvConfigError(
                    f"The Unity game {self.session.player.name} has no behavior '{self.config.behavior_name}' "
                    f"(it has: {', '.join(specs)})."
                )
            return self.config.behavior_name
        if len(specs) != 1:
            raise EnvConfigError(
                f"The Unity game {self.session.player.name} has {len(specs)} behaviors ({', '.join(specs)}); set "
                "env_config behavior_name to the one to control, or use the multi-agent environment UnityMultiAgent."
            )
        return next(iter(specs))

    @property
    def worker_id(self) -> int:
        """The worker id (port offset) this environment's player got."""
        return self.session.worker_id

    def _steps(self) -> tuple[Any, Any]:
        steps: tuple[Any, Any] = self.session.env.get_steps(self.behavior_name)  # (DecisionSteps, TerminalSteps)
        return steps

    def _single(self, decision: Any) -> None:
        if len(decision) > 1:
            raise EnvConfigError(
                f"The Unity game {self.session.player.name} has {len(decision)} agents of behavior "
                f"'{self.behavior_name}'; the single-agent environment controls one. Use UnityMultiAgent."
            )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if self._pending_obs is not None:
            obs, self._pending_obs = self._pending_obs, None
            self._episode_over = False
            return obs, {}
        self.session.call("reset", self.session.env.reset)
        for _ in range(MAX_SKIPPED_STEPS):
            decision, _terminal = self._steps()
            if len(decision):
                self._single(decision)
                self._episode_over = False
                return spaces.observation_at(decision.obs, 0), {}
            self.session.call("step", self.session.env.step)
        raise UnityPlayerError(
            f"The Unity game's agent requested no decision in {MAX_SKIPPED_STEPS} steps after a reset."
        )

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._episode_over:
            raise RuntimeError("step() called before reset() or after the episode ended")
        decision, _terminal = self._steps()
        if len(decision):
            self._single(decision)
            self.session.env.set_actions(self.behavior_name, spaces.action_tuple(self.behavior_spec, [action]))
        reward = 0.0
        for _ in range(MAX_SKIPPED_STEPS):
            self.session.call("step", self.session.env.step)
            decision, terminal = self._steps()
            if len(terminal):
                reward += float(terminal.reward[0] + terminal.group_reward[0])
                interrupted = bool(terminal.interrupted[0])
                obs = spaces.observation_at(terminal.obs, 0)
                self._episode_over = True
                if len(decision):  # the agent's next episode already began: reset() starts from here
                    self._pending_obs = spaces.observation_at(decision.obs, 0)
                return obs, reward, not interrupted, interrupted, {"interrupted": interrupted}
            if len(decision):
                self._single(decision)
                reward += float(decision.reward[0] + decision.group_reward[0])
                return spaces.observation_at(decision.obs, 0), reward, False, False, {}
        raise UnityPlayerError(f"The Unity game's agent requested no decision in {MAX_SKIPPED_STEPS} steps.")

    def close(self) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            session.close()
        super().close()


def make_unity_env(env_config: Mapping[str, Any] | None = None) -> UnityGymEnv:
    """Entry point for :func:`envs.registry.make_env`: a :class:`UnityGymEnv` from ``env_config``."""
    return UnityGymEnv(env_config)
