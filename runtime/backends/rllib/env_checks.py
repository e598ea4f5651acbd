"""The environment, built once in the driver to look at it: its spaces (an action mask, a setting its actions cannot
take) before RLlib builds its env runners, and why they failed when they did (RLlib reports only that none came up).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, Mapping, TextIO

import gymnasium

from envs.adapters import has_action_mask
from envs.errors import EnvConfigError, EnvStartError
from envs.catalog import KNOWN_ENVS
from envs.registry import canonical_env_id, env_info, make_env
from runtime.config.hyperparameters import TrainingSpec
from runtime.errors import UserError
from runtime.job.env_config import env_start_error
from runtime.user_code import described


def explain_env_failure(env_id: str, env_config: Mapping[str, Any],
                        model_config: Mapping[str, Any] | None = None) -> None:
    """After RLlib failed to build its env runners: build the environment once here, and when it cannot start (a
    game that exits at once or never answers) raise the :class:`UserError` that names it. RLlib itself reports only
    that no env runner came up (``IndexError: list index out of range``); its runners' errors are in their logs.
    Also a model setting the environment's actions cannot take: ``free_log_std`` needs continuous (Box) actions."""
    try:
        env = make_env(env_id, dict(env_config))
    except EnvConfigError as exc:
        raise UserError(str(exc)) from exc
    except EnvStartError as exc:
        raise env_start_error(env_id, exc) from exc
    except TypeError as exc:  # gymnasium passes env_config to the constructor as keyword arguments
        key = re.search(r"unexpected keyword argument '([^']*)'", str(exc))
        if key is None:
            return
        raise UserError(f"{env_id} does not take the env_config key '{key.group(1)}' (rl.training.config.env_config."
                        f"{key.group(1)}): its constructor has no such argument. Remove it.") from exc
    except Exception:  # noqa: BLE001 - not the environment's fault: the original error stands
        return
    action_space, shape = env.action_space, getattr(env.observation_space, "shape", None)
    env.close()
    if (model_config or {}).get("free_log_std") and type(action_space).__name__ != "Box":
        raise UserError(f"'rl.training.config.model.free_log_std' (RLlib 2.x: model_config.free_log_std) needs "
                        f"continuous (Box) actions; {env_id} has {action_space}. Remove it for this environment.")
    if shape and len(shape) == 3 and not (model_config or {}).get("conv_filters") and not _default_cnn(shape):
        raise UserError(
            f"{env_id}'s observations are images of shape {list(shape)}, for which RLlib has no default convolutional "
            "network (it has them for 96x96, 84x84, 64x64, 42x42 and 10x10 images). Give its layers, each "
            "[filters, [kernel, kernel], stride], in the hyperparameter rl.training.config.model_config.conv_filters, "
            "e.g. {\"conv_filters\": [[16, [4, 4], 2], [32, [4, 4], 2]]} as rl.training.config.model_config, or "
            "give frames of one of those sizes.")


def _default_cnn(shape: Any) -> bool:
    """Whether RLlib's catalog has convolutional layers of its own for images of ``shape`` (its rule, asked)."""
    from ray.rllib.models.utils import get_filter_config  # heavy: RLlib (imported by the job already)

    try:
        get_filter_config(list(shape))
    except ValueError:
        return False
    return True


ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception|Exit)\b.*")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class RunnerErrors(logging.Handler):
    """RLlib's own error log lines while it builds its env runners (their exceptions reach the driver only there)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def cause(self) -> str | None:
        """The last exception line an env runner reported (``RuntimeError: ...``), or None."""
        for message in reversed(self.messages):
            lines = [ANSI.sub("", line).strip() for line in message.splitlines()]
            found = [line for line in lines if ERROR_LINE.match(line)]
            if found:
                return re.sub(r"\), taking actor \d+ out of service\.?$", "", found[-1])
        return None


def probe_environment(env_id: str, env_config: Mapping[str, Any]) -> str | None:
    """Build ``env_id`` here, reset it and take one random step: the error it raises (``Type: message``), or None
    when it runs. Used only after every env runner has died, to name why."""
    try:
        env = make_env(env_id, dict(env_config))
    except Exception as exc:  # noqa: BLE001 - the environment's own error is what the user needs
        return described(exc)
    try:
        env.reset(seed=0)
        env.step(env.action_space.sample())
    except Exception as exc:  # noqa: BLE001 - as above
        return described(exc)
    finally:
        try:
            env.close()
        except Exception:  # noqa: BLE001 - closing a broken environment may fail too
            pass
    return None


def env_spaces(env_id: str, env_config: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """``env_id``'s (observation, action) spaces, from the environment built once here and closed; None when it
    cannot be built (that is reported where RLlib builds it)."""
    try:
        env = make_env(env_id, dict(env_config))
    except Exception:  # noqa: BLE001 - see the docstring
        return None
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def observes_action_mask(env_id: str, env_config: Mapping[str, Any]) -> bool:
    """Whether ``env_id``'s observations carry an action mask (:func:`envs.adapters.has_action_mask`). Only a
    user's (or gymnasium's) environment can: it is built once here to look; rlrt's own families never do."""
    if canonical_env_id(env_id) in KNOWN_ENVS or env_info(env_id).multi_agent:
        return False
    found = env_spaces(env_id, env_config)
    return found is not None and has_action_mask(*found)


def settings_the_actions_take(spec: TrainingSpec, env_id: str, env_config: Mapping[str, Any],
                              out: TextIO) -> TrainingSpec:
    """``spec`` without ``model_config.free_log_std`` when the environment's actions are not continuous: RLlib 1.x
    ignored it there (the seeds' Unity script sets it for a discrete game), RLlib 2.x's env runners die on it. One
    line says so. The environment is built once here, only when the setting is given."""
    model = dict(spec.config.get("model_config") or {})
    if not model.get("free_log_std") or env_info(env_id).multi_agent:
        return spec
    found = env_spaces(env_id, env_config)
    if found is None:
        return spec
    action_space = found[1]
    if isinstance(action_space, gymnasium.spaces.Box):
        return spec
    del model["free_log_std"]
    print(f"rlrt: rl.training.config.model.free_log_std applies to continuous (Box) actions; {env_id} has "
          f"{action_space}, so it is ignored (as RLlib 1.x ignored it)", file=out, flush=True)
    return replace(spec, config={**spec.config, "model_config": model})

