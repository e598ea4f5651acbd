"""What the Coach settings rlrt translates may be, in Coach's own names, and where a value came from.

Every setting the translation reads goes through :meth:`sagemaker_rl.coach_reader.Reader.get`, which checks it here
before anything is made of it: a bad value is refused as the preset's setting (``agent_params.algorithm.discount``),
with the preset's file and line (or the hyperparameter) that set it, the value and what is allowed, never as the
RLlib or d3rlpy key it becomes (``gamma``) nor as a Python error from a conversion (``float('abc')``). The bounds
are those of rlrt's checks of the keys they become (``runtime.backends.rllib.schema``), and of Coach's own loops for
its step counts (a period of zero steps never ends; a count below zero means nothing).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping

from runtime.config.values import ValueCheck, shown

STEP_KINDS = ("EnvironmentSteps", "EnvironmentEpisodes", "TrainingSteps", "Frames", "Time")
"""Coach's step counts (``rl_coach.core_types``)."""


def _number(predicate: Callable[[float], bool], meaning: str) -> ValueCheck:
    return ValueCheck((int, float), lambda v: math.isfinite(v) and predicate(v), meaning)


_UNIT = _number(lambda v: 0 <= v <= 1, "a number in [0, 1]")
_POSITIVE = _number(lambda v: v > 0, "a number > 0")
_NON_NEGATIVE = _number(lambda v: v >= 0, "a number >= 0")
_COUNT = ValueCheck((int,), lambda v: v >= 1, "an integer >= 1")
_BETA = _number(lambda v: 0 <= v < 1, "a number in [0, 1)")
_FLAG = ValueCheck((bool,), lambda v: True, "True or False")
_SIZES = ValueCheck(
    (int, list, tuple),
    lambda v: all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1
        for n in (v if isinstance(v, (list, tuple)) and len(v) == 2 else [v])
    ),
    "an integer >= 1 or two of them",
)
_LEVEL = ValueCheck((str,), lambda v: bool(v.strip()), "a gym id (level='CartPole-v0') or 'module:Class'")
RLLIB_ACTIVATIONS = {
    "relu": "relu",
    "tanh": "tanh",
    "elu": "elu",
    "swish": "swish",
    "silu": "silu",
    "linear": "linear",
    "none": "linear",
}
"""The activations (Coach's names) RLlib's model builds, and RLlib's name of each (Coach's 'none': no activation)."""

SETTINGS: Mapping[str, ValueCheck] = {
    "discount": _UNIT,
    "gae_lambda": _UNIT,
    "rate_for_copying_weights_to_target": _UNIT,
    "evaluation_epsilon": _UNIT,
    "initial_value": _UNIT,
    "final_value": _UNIT,
    "clip_likelihood_ratio_using_epsilon": _POSITIVE,
    "learning_rate": _POSITIVE,
    "optimizer_epsilon": _POSITIVE,
    "loss_weight": _POSITIVE,
    "beta_entropy": _NON_NEGATIVE,
    "adam_optimizer_beta1": _BETA,
    "adam_optimizer_beta2": _BETA,
    "optimization_epochs": _COUNT,
    "batch_size": _COUNT,
    "num_steps_between_gradient_updates": _COUNT,
    "apply_gradients_every_x_episodes": _COUNT,
    "decay_steps": _COUNT,
    "reward_model_num_epochs": _COUNT,
    "units": _COUNT,
    "num_filters": _COUNT,
    "kernel_size": _SIZES,
    "strides": _SIZES,
    "level": _LEVEL,
    "heads_parameters": ValueCheck((list, tuple), lambda v: True, "a list of heads (QHeadParameters(), ...)"),
    "input_embedders_parameters": ValueCheck(
        (dict,),
        lambda v: all(isinstance(k, str) for k in v),
        "a dict of inputs ({'observation': InputEmbedderParameters()})",
    ),
    "clip_gradients": ValueCheck(
        (int, float, type(None)), lambda v: v is None or (math.isfinite(v) and v > 0), "None or a number > 0"
    ),
    "train_to_eval_ratio": ValueCheck(
        (int, float, type(None)), lambda v: v is None or 0 < v <= 1, "None or a number in (0, 1]"
    ),
    "min_reward_threshold": ValueCheck(
        (int, float, type(None)), lambda v: v is None or math.isfinite(v), "None or a finite number"
    ),
    **{
        name: _FLAG
        for name in (
            "estimate_state_value_using_gae",
            "use_kl_regularization",
            "use_separate_networks_per_head",
            "replace_mse_with_huber_loss",
            "dump_gifs",
            "dump_mp4",
        )
    },
}
"""The checks by a setting's last name (``agent_params.algorithm.discount``: ``discount``)."""

STEP_SETTINGS: Mapping[str, int] = {
    "improve_steps": 1,
    "steps_between_evaluation_periods": 1,
    "num_consecutive_playing_steps": 1,
    "heatup_steps": 0,
    "evaluation_steps": 0,
    "num_steps_between_copying_online_weights_to_target": 0,
}
"""The step counts, by name, and the least ``n`` each takes (zero heatup, evaluation or target copying: none)."""


def _flag(value: Any) -> Any:
    """True / False for their spellings a hyperparameter gives (``"false"``, 0, 1); anything else as it is."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def checked(path: str, value: Any) -> tuple[Any, str | None]:
    """``value`` of the setting ``path`` as the translation takes it (a number spelt as text, as that number), and
    the problem with it in Coach's names, or None."""
    name = path.rsplit(".", 1)[-1]
    if name in STEP_SETTINGS:
        return value, _steps_problem(path, value, STEP_SETTINGS[name])
    if name == "max_size":
        return value, _memory_problem(path, value)
    check = SETTINGS.get(name)
    if check is None:
        return value, None
    value = _flag(value) if check is _FLAG else check.coerce(value)
    return value, check.problem(path, value)


def _steps_problem(path: str, value: Any, least: int) -> str | None:
    if value is None and least == 0:
        return None
    count = getattr(value, "num_steps", None)
    kind = type(value).__name__
    if kind in STEP_KINDS and isinstance(count, int) and not isinstance(count, bool) and count >= least:
        return None
    got = f"{kind}({shown(count)})" if kind in STEP_KINDS else f"{shown(value)} ({kind})"
    return (
        f"'{path}' must be a step count with n an integer >= {least}: {', '.join(k + '(n)' for k in STEP_KINDS)}"
        f"; got {got}"
    )


def _memory_problem(path: str, value: Any) -> str | None:
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
        and value[1] >= 1
    ):
        return None
    return f"'{path}' must be (MemoryGranularity.Transitions or .Episodes, a size: an integer >= 1), got {shown(value)}"


def where(graph_manager: Any, path: str, origins: Mapping[str, str]) -> str:
    """Where the value at ``path`` came from: ``the hyperparameter rl.<path>``, the preset's ``file, line N`` (rlrt's
    ``rl_coach`` keeps where a preset set each parameter), or '' when neither is known."""
    if path in origins:
        return f"the hyperparameter {origins[path]}"
    parent_path, _, name = path.rpartition(".")
    parent = graph_manager
    for part in parent_path.split(".") if parent_path else []:
        if isinstance(parent, dict):
            parent = parent.get(part)
        elif isinstance(parent, list):
            parent = parent[int(part)] if part.isdigit() and int(part) < len(parent) else None
        else:
            parent = getattr(parent, part, None)
    method = getattr(parent, "rlrt_where", None)
    found = method(name) if callable(method) else None
    return f"{Path(found[0]).name}, line {found[1]}" if found else ""


def hyperparameter_origins(names: Any, prefix: str = "rl.") -> dict[str, str]:
    """The settings the job's hyperparameters set (``rl.improve_steps:TrainingSteps`` -> ``improve_steps``), each
    with the hyperparameter's name."""
    origins = {}
    for name in names:
        if name.startswith(prefix):
            origins[name[len(prefix) :].partition(":")[0]] = name
    return origins
