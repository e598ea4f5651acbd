"""The settings of ``rlrt evaluate`` (:mod:`runtime.evaluate.evaluator`): its hyperparameters, checked, and whether
the ``algorithm`` one names the model's."""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError

CONFIG = "config"
EVALUATION_KEYS = (
    hp.EVALUATE_EPISODES,
    hp.EVALUATE_STEPS,
    hp.EVALUATE_MAX_EPISODE_STEPS,
    hp.ALGORITHM,
    hp.EVAL_ENV,
    CONFIG,
    hp.RECORD_VIDEO_EVERY,
    hp.SEED,
    hp.PRESET,
    *hp.PRESET_ALIASES,
)
VARIANT_PREFIXES = ("DISCRETE",)
"""Prefixes that make an algorithm a variant of its family (d3rlpy's ``DiscreteBCQ`` is a ``BCQ``)."""


def check_hyperparameters(given: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluation settings in ``given`` (checked); training settings of a shared set are passed over."""
    problems = []
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key.startswith(hp.SAGEMAKER_PREFIX) or key == hp.TUNING_OBJECTIVE:
            continue
        if key in EVALUATION_KEYS and (key in hp.TOP_LEVEL_KEYS or key in hp.PRESET_ALIASES):
            check = hp.TOP_LEVEL_KEYS[hp.PRESET if key in hp.PRESET_ALIASES else key]
            problem = hp.check_value(key, value, check)
            value = hp.coerce_value(value, check[0])
        elif key == CONFIG:
            problem = (
                None
                if isinstance(value, dict)
                else f"'{key}' must be a JSON object such as {{\"env_config\": {{...}}}}"
            )
        elif key.startswith(hp.ENV_CONFIG_PREFIX):
            values.setdefault(CONFIG, {}).setdefault("env_config", {})[key[len(hp.ENV_CONFIG_PREFIX) :]] = value
            continue
        elif key.startswith(hp.CONFIG_PREFIX) or key.startswith(hp.STOP_PREFIX) or key in hp.TOP_LEVEL_KEYS:
            continue  # training settings in a shared hyperparameter set: not used by evaluation
        else:
            close = difflib.get_close_matches(key, EVALUATION_KEYS, n=1)
            problem = f"Unknown evaluation hyperparameter '{key}'." + (f" Did you mean '{close[0]}'?" if close else "")
        if problem:
            problems.append(problem)
        else:
            values[key] = value
    if problems:
        raise UserError("Invalid hyperparameter: " + "; ".join(problems))
    return values


def algorithm_matches(given: str, trained: str) -> bool:
    """Whether ``given`` names the model's algorithm ``trained``, or the family it is a variant of."""

    def family(name: str) -> str:
        name = name.strip().upper()
        return next((name[len(p) :] for p in VARIANT_PREFIXES if name.startswith(p) and len(name) > len(p)), name)

    return given.strip().upper() == trained.strip().upper() or family(given) == family(trained)
