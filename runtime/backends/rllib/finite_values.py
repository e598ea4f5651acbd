"""Every training step's reward and observation must be finite: one NaN or infinity makes every loss, gradient and
metric after it NaN (RLlib zeroes NaN gradients with a warning per tensor and trains on; the job used to end with exit
0 and NaN metrics). The wrapper RLlib's env creator applies to every single-agent env finds the first one.

It does not raise: an env runner that raises dies, and a remote one's error never reaches the driver (RLlib only
reports the actor as unavailable, after ``sample_timeout_s``). It ends the episode there instead (truncated; the last
finite observation and reward 0 in place of the bad values, so the learner never sees them) and puts the message in
the step's info; the env runners' ``on_episode_end`` logs it under :data:`NON_FINITE`, and the driver ends the job
with it once the iteration returns, before anything of that iteration is kept. A multi-agent env is looked through once
per finished episode instead (:func:`runtime.backends.rllib.episode_metrics.multi_agent_non_finite`).

The check is on the hot path: one ``math.isfinite`` on the reward and, for a floating-point array observation, one
dot product with zeros (integer and boolean observations are finite by construction).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping

import gymnasium
import numpy as np

from runtime.errors import UserError

NON_FINITE = "rlrt_non_finite"
"""The info key, and the env runners' metric, that carry the message about a non-finite reward or observation."""


def first_non_finite(value: Any, path: str = "") -> tuple[str, Any] | None:
    """``(where, value)`` of the first non-finite element of an observation (an array, a float, or a dict or tuple of
    them), or None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fc" or np.isfinite(value).all():
            return None
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        return (f"{path}[{', '.join(map(str, index))}]" if index else path), value[index].item()
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = first_non_finite(item, f"{path}[{key!r}]")
        if found is not None:
            return found
    return None


def non_finite_advice(what: str) -> str:
    return (
        f"Training on a non-finite {what} turns every loss and metric into NaN, so the job stops. Fix the "
        f"environment's {what} (a division by zero, a log of 0, an overflow), or clip it in the environment."
    )


def reward_message(env_id: str, reward: Any, step: int) -> str:
    return (
        f"The environment {env_id} returned the reward {reward!r} on step {step} of one of its envs. "
        f"{non_finite_advice('reward')}"
    )


def observation_message(env_id: str, found: tuple[str, Any], when: str) -> str:
    where, value = found
    return (
        f"The environment {env_id} returned an observation with {value!r} at observation{where} {when}. "
        f"{non_finite_advice('observation')}"
    )


class FiniteValues(gymnasium.Wrapper):
    """Ends the episode at the first non-finite reward or observation ``env`` returns, the message in the step's info
    under :data:`NON_FINITE` (only the first of this env's; the job stops at the end of the iteration)."""

    def __init__(self, env: Any, env_id: str) -> None:
        super().__init__(env)
        self.env_id = env_id
        self.steps = 0
        """Steps this env took since it was built (one count across its episodes)."""
        self.last: Any = None
        self.zeros = np.zeros(0)
        self.pending: str | None = None
        self.reported = False

    def reset(self, **kwargs: Any) -> Any:
        observation, info = self.env.reset(**kwargs)
        found = first_non_finite(observation)
        if found is None:
            self.last = observation
            return observation, info
        self.pending = observation_message(self.env_id, found, "returned by reset()")
        return self.observation_space.sample(), info

    def step(self, action: Any) -> Any:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        message, self.pending = self.pending, None
        try:
            finite = math.isfinite(reward)
        except TypeError:  # an array-like reward: the adapters' business, not this check's
            finite = True
        if not finite:
            message = message or reward_message(self.env_id, reward, self.steps)
            reward = 0.0
        found = None if self._finite_array(observation) else first_non_finite(observation)
        if found is not None:
            message = message or observation_message(self.env_id, found, f"on step {self.steps} of one of its envs")
            observation = self.last if self.last is not None else self.observation_space.sample()
        else:
            self.last = observation
        if message is None:
            return observation, reward, terminated, truncated, info
        if not self.reported:
            info = {**info, NON_FINITE: message}
            self.reported = True
        return observation, reward, terminated, True, info

    def _finite_array(self, observation: Any) -> bool:
        """True when ``observation`` is a float array whose elements are all finite, by one BLAS call: its dot
        product with zeros is 0, or NaN when an element is NaN or infinite (0 x inf), and never overflows. About 3x
        faster than ``numpy.isfinite(...).all()`` on a small observation; False sends it to the exact check."""
        if type(observation) is not np.ndarray or observation.dtype.kind != "f":
            return False
        flat = observation.ravel()
        if self.zeros.shape != flat.shape or self.zeros.dtype != flat.dtype:
            self.zeros = np.zeros_like(flat)
        return not math.isnan(flat.dot(self.zeros))


class FiniteVectorValues(gymnasium.vector.VectorWrapper):
    """:class:`FiniteValues` for a vectorised env (gymnasium's own, :mod:`envs.vector`): one check over the batch of
    rewards and observations per step; an env whose values are not finite gets reward 0, its last finite observation
    and a truncation, the message in its info (the first of the batch's, once). The inner env does not see that
    truncation and goes on with its episode: what the learner gets after it does not matter, as the job stops at the
    end of the iteration."""

    def __init__(self, env: Any, env_id: str) -> None:
        super().__init__(env)
        self.env_id = env_id
        self.steps = 0
        """Vector steps taken since it was built."""
        self.last: Any = None
        self.pending: str | None = None
        self.reported = False

    def reset(self, **kwargs: Any) -> Any:
        observations, infos = self.env.reset(**kwargs)
        bad = self._bad_rows(observations)
        if bad is not None and bad.any():
            self.pending = self._observation_message(observations, bad, "returned by reset()")
            observations = self._replaced(observations, bad, self.env.observation_space.sample())
        self.last = observations
        return observations, infos

    def step(self, actions: Any) -> Any:
        observations, rewards, terminations, truncations, infos = self.env.step(actions)
        self.steps += 1
        rewards_ok = np.isfinite(rewards)
        bad = self._bad_rows(observations)
        observations_ok = bad is None or not bad.any()
        if rewards_ok.all() and observations_ok and self.pending is None:
            self.last = observations
            return observations, rewards, terminations, truncations, infos
        message, self.pending = self.pending, None
        rows = ~rewards_ok if bad is None else (~rewards_ok | bad)
        if not rewards_ok.all():
            row = int(np.flatnonzero(~rewards_ok)[0])
            message = message or reward_message(self.env_id, float(rewards[row]), self.steps)
            rewards = np.where(rewards_ok, rewards, 0.0)
        if not observations_ok:
            message = message or self._observation_message(
                observations, bad, f"on step {self.steps} of one of its envs"
            )
            observations = self._replaced(observations, bad, self.last)
        self.last = observations
        truncations = truncations | rows
        if message is not None and not self.reported:
            first = int(np.flatnonzero(rows)[0]) if rows.any() else 0
            infos = {
                **infos,
                NON_FINITE: np.array([message] * self.num_envs, dtype=object),
                f"_{NON_FINITE}": np.arange(self.num_envs) == first,
            }
            self.reported = True
        return observations, rewards, terminations, truncations, infos

    def _observation_message(self, observations: Any, bad: Any, when: str) -> str:
        """The message about the first env of ``bad`` (a non-finite element is in its row of ``observations``)."""
        row = observations[int(np.flatnonzero(bad)[0])]
        return observation_message(self.env_id, first_non_finite(row) or ("", row), when)

    @staticmethod
    def _replaced(observations: Any, bad: Any, stand_in: Any) -> Any:
        """``observations`` with the rows of ``bad`` taken from ``stand_in`` (a batch of the same shape)."""
        return np.where(bad.reshape(-1, *([1] * (observations.ndim - 1))), stand_in, observations)

    @staticmethod
    def _bad_rows(observations: Any) -> Any:
        """A boolean per env, True where its observation has a non-finite element; None for observations that are
        not a floating-point array (integers are finite by construction; other structures are not checked here)."""
        if type(observations) is not np.ndarray or observations.dtype.kind not in "fc":
            return None
        return ~np.isfinite(observations.reshape(len(observations), -1)).all(axis=1)


def with_finite_values(env: Any, env_id: str) -> Any:
    """``env`` checked for non-finite rewards and observations when it is a single-agent gymnasium env or a
    vectorised one."""
    from ray.rllib.env.multi_agent_env import MultiAgentEnv  # heavy: RLlib (loaded in every env runner anyway)

    if isinstance(env, gymnasium.vector.VectorEnv):
        return FiniteVectorValues(env, env_id)
    if not isinstance(env, gymnasium.Env) or isinstance(env, MultiAgentEnv):
        return env
    # The check's dot product with zeros is NaN for a non-finite element, which is how it finds one: numpy's
    # "invalid value encountered in dot" is then the check working, not news for the user (its message follows).
    warnings.filterwarnings("ignore", "invalid value encountered in dot", RuntimeWarning, __name__)
    return FiniteValues(env, env_id)


def non_finite_message(runners: Mapping[str, Any]) -> str | None:
    """The first message the env runners logged about a non-finite value this iteration, or None."""
    found = runners.get(NON_FINITE)
    if isinstance(found, (list, tuple)) and found:
        return str(found[0])
    return str(found) if isinstance(found, str) else None


def refuse_non_finite(runners: Mapping[str, Any]) -> None:
    """Stop the job (a UserError, before anything of the iteration is saved) when an env runner logged a non-finite
    value in it."""
    message = non_finite_message(runners)
    if message is not None:
        raise UserError(message)
