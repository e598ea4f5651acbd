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
    return (f"Training on a non-finite {what} turns every loss and metric into NaN, so the job stops. Fix the "
            f"environment's {what} (a division by zero, a log of 0, an overflow), or clip it in the environment.")


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
        self.pending = self._observation_message(found, "returned by reset()")
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
            message = message or (f"The environment {self.env_id} returned the reward {reward!r} on step "
                                  f"{self.steps} of one of its envs. {non_finite_advice('reward')}")
            reward = 0.0
        found = None if self._finite_array(observation) else first_non_finite(observation)
        if found is not None:
            message = message or self._observation_message(found, f"on step {self.steps} of one of its envs")
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

    def _observation_message(self, found: tuple[str, Any], when: str) -> str:
        where, value = found
        return (f"The environment {self.env_id} returned an observation with {value!r} at observation{where} "
                f"{when}. {non_finite_advice('observation')}")


def with_finite_values(env: Any, env_id: str) -> Any:
    """``env`` checked for non-finite rewards and observations when it is a single-agent gymnasium env."""
    from ray.rllib.env.multi_agent_env import MultiAgentEnv  # heavy: RLlib (loaded in every env runner anyway)

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
