"""``rl.training.stop.*``: the stop criteria a job may name (Tune's result keys, as SageMaker RL's experiments name
them, plus a backend's own: the offline one's ``epochs`` and ``gradient_steps``), and their check, shared by the
full hyperparameter check and the quick one before a backend's library loads."""

from __future__ import annotations

import difflib
import math
from types import MappingProxyType
from typing import Any, Mapping

import gymnasium

from envs.catalog import ALIASES
from runtime.config.values import ValueCheck

STOP_PREFIX = "rl.training.stop."
STOP_TIME_TOTAL_S = "time_total_s"
STOP_TRAINING_ITERATION = "training_iteration"
STOP_TIMESTEPS_TOTAL = "timesteps_total"
STOP_EPISODE_REWARD_MEAN = "episode_reward_mean"

STOP_KEYS: Mapping[str, ValueCheck] = MappingProxyType(
    {
        STOP_TIME_TOTAL_S: ValueCheck((int, float), lambda v: v > 0, "a number of seconds > 0"),
        STOP_TRAINING_ITERATION: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        STOP_TIMESTEPS_TOTAL: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        STOP_EPISODE_REWARD_MEAN: ValueCheck((int, float), lambda v: math.isfinite(v), "a finite number"),
        # Tune 1.x's other result keys, as SageMaker RL's experiments name them:
        "episodes_total": ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        **{
            key: ValueCheck((int, float), lambda v: math.isfinite(v), "a finite number")
            for key in ("episode_reward_max", "episode_reward_min", "episode_len_mean")
        },
    }
)


def all_stop_keys(backend_keys: Mapping[str, ValueCheck]) -> dict[str, ValueCheck]:
    """The stop criteria a job of a backend may name: :data:`STOP_KEYS` and the backend's own (``backend_keys``)."""
    return {**STOP_KEYS, **backend_keys}


def check_stop(given: Mapping[str, Any], keys: Mapping[str, ValueCheck]) -> tuple[dict[str, Any], list[str]]:
    """The ``rl.training.stop.*`` hyperparameters ``given`` (full names), checked against ``keys``
    (:func:`all_stop_keys`): (the criteria by short name, their values coerced; the problems)."""
    stop: dict[str, Any] = {}
    problems = []
    for key, value in given.items():
        rest = key[len(STOP_PREFIX) :]
        if rest not in keys:
            close = difflib.get_close_matches(rest, sorted(keys), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(f"Unknown stop criterion '{key}'.{hint} Valid: {', '.join(STOP_PREFIX + k for k in keys)}")
            continue
        problem = keys[rest].problem(key, value)
        if problem:
            problems.append(problem)
        else:
            stop[rest] = keys[rest].coerce(value)
    return stop, problems


def reward_threshold(env: str) -> float | None:
    """Gymnasium's ``reward_threshold`` for ``env`` (the return at which its task counts as solved: CartPole-v1 475,
    Acrobot-v1 -100), None where gymnasium registers no threshold or does not know the id."""
    spec = gymnasium.registry.get(ALIASES.get(env, env))
    value = getattr(spec, "reward_threshold", None)
    return float(value) if isinstance(value, (int, float)) else None


def same_env(a: str, b: str) -> bool:
    """Whether two environment ids (or aliases) name one environment."""
    return ALIASES.get(a, a) == ALIASES.get(b, b)


def stop_for_env(preset_stop: Mapping[str, Any], env: str) -> dict[str, Any]:
    """The stop criteria of a preset trained on another environment than its own, when the job named no preset
    (``rlrt train --env Acrobot-v1``: the default preset's "return >= 475" is CartPole's): its reward criterion is
    gymnasium's ``reward_threshold`` for ``env`` (none where gymnasium gives none), its budgets (steps, time) stay."""
    stop = {key: value for key, value in preset_stop.items() if key != STOP_EPISODE_REWARD_MEAN}
    threshold = reward_threshold(env)
    if threshold is not None:
        stop[STOP_EPISODE_REWARD_MEAN] = threshold
    return stop


def stop_note(
    stop: Mapping[str, Any], given: Mapping[str, Any], env: str, preset_name: str, preset_stop: Mapping[str, Any]
) -> str:
    """The line that says which reward stop a job on ``env`` got in place of that of preset ``preset_name`` (made for
    another environment): ``stop`` the job's criteria, ``given`` its hyperparameters."""
    reward = STOP_EPISODE_REWARD_MEAN
    ours = preset_stop.get(reward)
    replaced = f" ({reward} >= {ours:g} is for that preset's own environment)" if ours is not None else ""
    if STOP_PREFIX + reward in given:
        chosen = f"{reward} >= {stop[reward]:g}, as given"
    elif reward in stop:
        chosen = f"{reward} >= {stop[reward]:g}: gymnasium's reward_threshold for {env}"
    else:
        chosen = f"none: gymnasium has no reward_threshold for {env}; the step and time budgets stop it"
    return f"rlrt: reward stop on {env}, not preset {preset_name}'s{replaced}: {chosen}"
