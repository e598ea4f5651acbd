"""The environment, built once in the driver to look at it: its spaces (an action mask, a setting its actions cannot
take) before RLlib builds its env runners, and why they failed when they did (RLlib reports only that none came up).
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TextIO

import gymnasium

from envs.action_masks import has_action_mask
from envs.errors import EnvConfigError, EnvStartError
from envs.catalog import KNOWN_ENVS
from envs.registry import canonical_env_id, env_info, make_env
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.job.env_config import env_start_error
from runtime.user_code import described


def explain_env_failure(
    env_id: str, env_config: Mapping[str, Any], model_config: Mapping[str, Any] | None = None
) -> None:
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
        raise UserError(
            f"{env_id} does not take the env_config key '{key.group(1)}' (rl.training.config.env_config."
            f"{key.group(1)}): its constructor has no such argument. Remove it."
        ) from exc
    except Exception:  # noqa: BLE001 - not the environment's fault: the original error stands
        return
    action_space, shape = env.action_space, getattr(env.observation_space, "shape", None)
    env.close()
    if (model_config or {}).get("free_log_std") and type(action_space).__name__ != "Box":
        raise UserError(
            f"'rl.training.config.model.free_log_std' (RLlib 2.x: model_config.free_log_std) needs "
            f"continuous (Box) actions; {env_id} has {action_space}. Remove it for this environment."
        )
    if shape and len(shape) == 3 and not (model_config or {}).get("conv_filters") and not _default_cnn(shape):
        raise UserError(
            f"{env_id}'s observations are images of shape {list(shape)}, for which RLlib has no default convolutional "
            "network (it has them for 96x96, 84x84, 64x64, 42x42 and 10x10 images). Give its layers, each "
            "[filters, [kernel, kernel], stride], in the hyperparameter rl.training.config.model_config.conv_filters, "
            'e.g. {"conv_filters": [[16, [4, 4], 2], [32, [4, 4], 2]]} as rl.training.config.model_config, or '
            "give frames of one of those sizes."
        )


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
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]

    def cause(self) -> str | None:
        """The last exception line an env runner reported (``RuntimeError: ...``), or None."""
        for message in reversed(self.messages):
            lines = [ANSI.sub("", line).strip() for line in message.splitlines()]
            found = [line for line in lines if ERROR_LINE.match(line)]
            if found:
                return re.sub(r"\), taking actor \d+ out of service\.?$", "", found[-1])
        return None


def _below_error(record: logging.LogRecord) -> bool:
    return record.levelno < logging.ERROR


@contextlib.contextmanager
def env_runners_built(
    env_id: str,
    env_config: Mapping[str, Any],
    model_config: Mapping[str, Any] | None,
    log_path: Path,
    close: Callable[[], None],
) -> Iterator[None]:
    """Around RLlib's building of its env runners. The errors RLlib logs meanwhile (each env runner's failure, with
    its traceback, twice) are held back from the console: when the build fails for a reason rlrt can name (the
    environment's own error, a setting it cannot take, an env runner's exception line), ``close`` runs, that reason
    is raised as a :class:`UserError` and RLlib's lines go to ``log_path``, which the message names; otherwise they
    are shown as RLlib logged them."""
    errors = RunnerErrors()
    rllib_log = logging.getLogger("ray.rllib")
    console = list(rllib_log.handlers)
    for handler in console:
        handler.addFilter(_below_error)
    rllib_log.addHandler(errors)
    named = False
    try:
        yield
    except Exception as exc:
        close()
        try:
            explain_env_failure(env_id, env_config, model_config)
            cause = errors.cause()
            if cause:
                raise UserError(f"The environment {env_id} could not start in RLlib's env runners: {cause}") from exc
        except UserError as named_error:
            named = True
            if not errors.records:
                raise
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a") as log:
                log.writelines(ANSI.sub("", errors.format(record)) + "\n" for record in errors.records)
            raise UserError(f"{named_error} (RLlib's own report of its env runners' errors: {log_path})") from exc
        raise
    finally:
        rllib_log.removeHandler(errors)
        for handler in console:
            handler.removeFilter(_below_error)
            for record in errors.records if not named else ():
                if record.levelno >= handler.level:
                    handler.handle(record)


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
    """Whether ``env_id``'s observations carry an action mask (:func:`envs.action_masks.has_action_mask`). Only a
    user's (or gymnasium's) environment can: it is built once here to look; rlrt's own families never do."""
    if canonical_env_id(env_id) in KNOWN_ENVS or env_info(env_id).multi_agent:
        return False
    found = env_spaces(env_id, env_config)
    return found is not None and has_action_mask(*found)


def settings_the_actions_take(
    spec: TrainingSpec, env_id: str, env_config: Mapping[str, Any], out: TextIO
) -> TrainingSpec:
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
    print(
        f"rlrt: rl.training.config.model.free_log_std applies to continuous (Box) actions; {env_id} has "
        f"{action_space}, so it is ignored (as RLlib 1.x ignored it)",
        file=out,
        flush=True,
    )
    return replace(spec, config={**spec.config, "model_config": model})
