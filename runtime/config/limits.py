"""The limits every hyperparameter keeps before any parser, backend or environment sees it, checked by the 2-second
check and again by :func:`runtime.config.hyperparameters.resolve`:

- text is UTF-8: a name or value typed in a shell whose locale is not UTF-8 arrives as surrogate escapes, which no
  file (``output/failure``, ``config.json``) can hold;
- an integer fits in 64 bits: a 400-digit stop criterion overflowed a float once training had started, and a
  100,000-digit value exceeded Python's integer-string limit (4300 digits) inside the parser;
- the environment settings rlrt itself reads from ``env_config`` (``max_episode_steps``, ``episode_step_cap``) are
  integers >= 1: gymnasium only asserts it, inside an env runner.

Each problem names the key, the value (shortened) and what is allowed.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from runtime.config.stop import STOP_KEYS, STOP_PREFIX
from runtime.config.values import INT64_MAX, INT64_MIN, ValueCheck, is_utf8, readable, shown

SAGEMAKERS = ("sagemaker_", "_tuning_objective_metric")
"""What SageMaker adds to every job's hyperparameters (rlrt ignores them)."""

ENV_CONFIG = "rl.training.config.env_config"
ENV_CONFIG_KEYS: Mapping[str, ValueCheck] = {
    key: ValueCheck(
        (int, float), lambda v: v >= 1 and float(v).is_integer(), "an integer >= 1 (steps per episode) or null"
    )
    for key in ("max_episode_steps", "episode_step_cap")
}
"""The ``env_config`` keys rlrt's environment builder reads itself (``envs.registry.make_env``)."""
_INTEGER_TEXT = re.compile(r"\s*[-+]?(\d+)\s*")


def _too_big(value: Any) -> bool:
    """An integer (or the text of one) outside 64 bits; text is measured without converting it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return not INT64_MIN <= value <= INT64_MAX
    if isinstance(value, str):
        match = _INTEGER_TEXT.fullmatch(value)
        if match:
            digits = match.group(1).lstrip("0")
            return len(digits) > 19 or len(digits) == 19 and not INT64_MIN <= int(value) <= INT64_MAX
    return False


def _leaves(value: Any) -> Iterator[Any]:
    """``value``, its keys and everything nested in it (without recursion: JSON may nest deeply)."""
    pending = [value]
    while pending:
        item = pending.pop()
        yield item
        if isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


def _allowed(key: str) -> str:
    """What ``key`` takes, where this module knows: a stop criterion's meaning, else any 64-bit number."""
    rest = key[len(STOP_PREFIX) :] if key.startswith(STOP_PREFIX) else ""
    if rest in STOP_KEYS:
        return f"{STOP_KEYS[rest].meaning} and at most {INT64_MAX}"
    return f"a number from {INT64_MIN} to {INT64_MAX} (64 bits)"


def limit_problems(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The problems of ``hyperparameters`` (SageMaker's flat names, values decoded) with the limits above."""
    problems = []
    for key, value in hyperparameters.items():
        if str(key).startswith(SAGEMAKERS):
            continue
        name = readable(str(key))
        if not is_utf8(str(key)):
            problems.append(
                f"The hyperparameter name '{name}' is not UTF-8 text (a byte such as \\xff: set "
                "it from a UTF-8 shell, or spell it in ASCII)"
            )
            continue
        leaves = list(_leaves(value))
        if any(isinstance(leaf, str) and not is_utf8(leaf) for leaf in leaves):
            problems.append(f"'{name}' has text that is not UTF-8: {shown(value)} (set it from a UTF-8 shell)")
        elif any(_too_big(leaf) for leaf in leaves):
            problems.append(f"'{name}' must be {_allowed(name)}, got {shown(value)}")
    return problems + env_config_problems(given_env_config(hyperparameters))


def given_env_config(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The ``env_config`` settings rlrt reads that ``hyperparameters`` give, by their full names."""
    found = {}
    whole = hyperparameters.get(ENV_CONFIG)
    for key in ENV_CONFIG_KEYS:
        if isinstance(whole, Mapping) and key in whole:
            found[f"{ENV_CONFIG}.{key}"] = whole[key]
        if f"{ENV_CONFIG}.{key}" in hyperparameters:
            found[f"{ENV_CONFIG}.{key}"] = hyperparameters[f"{ENV_CONFIG}.{key}"]
    return found


def env_config_problems(settings: Mapping[str, Any]) -> list[str]:
    """The problems of ``settings`` (full name -> value; the name ends with, or names, an :data:`ENV_CONFIG_KEYS`
    key); None is fine (no limit)."""
    problems = []
    for name, value in settings.items():
        key = next(k for k in ENV_CONFIG_KEYS if k in name)
        problem = None if value is None else ENV_CONFIG_KEYS[key].problem(name, value)
        if problem:
            problems.append(problem)
    return problems
