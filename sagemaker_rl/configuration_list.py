"""``ConfigurationList``: SageMaker RL's holder of ``rl.*`` hyperparameters for a Coach graph manager (the names of
``sagemaker_rl.configuration_list``; ``CoachConfigurationList`` in :mod:`sagemaker_rl.coach_launcher` adds Coach's
step kinds).

A hyperparameter names a path into the object: ``agent_params.algorithm.discount`` sets that attribute (a dict is
entered by key: ``agent_params.network_wrappers.main.learning_rate``, a list by index: ``...scheme.0.units``),
and ``name:Kind`` wraps the value in an allowed type first (``improve_steps:TrainingSteps`` = 100 ->
``TrainingSteps(100)``). Values given as text become numbers where they read as one.
"""

from __future__ import annotations

import difflib
import logging
from enum import Enum
from typing import Any, ClassVar

from runtime.errors import UserError

log = logging.getLogger(__name__)


class ConfigurationList:
    """Hyperparameters to apply: ``hp_dict`` (name -> value) until :meth:`apply_subset` consumes them."""

    ALLOWED_TYPES: ClassVar[dict[str, type]] = {}
    """The types a hyperparameter may name after a colon; nothing else is ever built from a job's text."""

    def __init__(self) -> None:
        self.hp_dict: dict[str, Any] = {}

    def store(self, name: str, value: Any) -> None:
        """Keep ``name = value`` for :meth:`apply_subset`."""
        self.hp_dict[name] = value

    def apply_subset(self, config_object: Any, prefix: str) -> None:
        """Set every stored hyperparameter whose name starts with ``prefix`` on ``config_object`` (the rest of the
        name is the path) and remove it from :attr:`hp_dict`."""
        for key, value in list(self.hp_dict.items()):
            if not key.startswith(prefix):
                continue
            path = key[len(prefix) :]
            log.debug("Configuring %s with %s=%s", prefix, path, value)
            try:
                self._set_rl_property_value(config_object, path, value, prefix)
            except Exception:
                print(f"Failure while applying hyperparameter {prefix}{path}={value}")
                raise
            del self.hp_dict[key]

    def _set_rl_property_value(self, obj: Any, key: str, val: Any, path: str = "") -> None:
        """Set ``key`` (``a.b.c``, the last part optionally ``c:Kind``) under ``obj`` to ``val``. Instance attributes
        only: a name starting with ``__`` is refused. As a Coach preset's own assignment, a name the object does not
        hold is a :class:`UserError` with the closest one (a misspelt hyperparameter fails instead of being kept
        beside the setting it meant); only a dict (``additional_simulator_parameters``: the environment's keyword
        arguments) takes new keys. ``path``: the hyperparameter's name so far, for that message."""
        head, dot, rest = key.partition(".")
        if dot:
            _check_safe(head)
            _check_known(obj, head, path, f".{rest}")
            child = obj[head] if isinstance(obj, dict) else obj[int(head)] if isinstance(obj, list) else vars(obj)[head]
            self._set_rl_property_value(child, rest, val, _joined(path, head))
            return
        kind = key[key.find(":") :] if ":" in key else ""
        key, val = self._parse_type(key, val)
        _check_safe(key)
        if isinstance(obj, dict):
            obj[key] = val
            return
        _check_known(obj, key, path, kind)
        current = obj[int(key)] if isinstance(obj, list) else vars(obj)[key]
        if isinstance(current, dict) and not isinstance(val, dict) or _is_group(current):
            raise UserError(
                f"The hyperparameter {_joined(path, key)} names a group of settings "
                f"({type(current).__name__}), not one setting: set one of its settings "
                f"({_joined(path, key)}.<name>)."
            )
        if isinstance(obj, list):
            obj[int(key)] = val
        else:
            vars(obj)[key] = val

    def _autotype(self, val: Any) -> Any:
        """Text that reads as an int or a float becomes one; anything else is kept."""
        if not isinstance(val, str):
            return val
        for kind in (int, float):
            try:
                return kind(val)
            except ValueError:
                pass
        return val

    def _parse_type(self, key: str, val: Any) -> tuple[str, Any]:
        """``(name, value)`` for ``name:Kind`` (the value wrapped in ``ALLOWED_TYPES[Kind]``) or a plain name."""
        val = self._autotype(val)
        name, colon, kind = key.partition(":")
        if not colon or not name:
            return key, val
        cls = self.ALLOWED_TYPES.get(kind)
        if cls is None:
            raise ValueError(f"Unrecognized object type {kind}.  Allowed values are {list(self.ALLOWED_TYPES)}")
        return name, cls(val)


def _joined(path: str, name: str) -> str:
    return f"{path}.{name}" if path and not path.endswith(".") else f"{path}{name}"


def _is_group(value: Any) -> bool:
    """Whether ``value`` is a parameters object (an agent's ``algorithm``, a network), not a value or a step count."""
    return hasattr(value, "__dict__") and not hasattr(value, "num_steps") and not isinstance(value, (type, Enum))


def _check_known(obj: Any, name: str, path: str, rest: str) -> None:
    """A :class:`UserError` when ``obj`` holds no ``name`` (the hyperparameter ``path.name`` followed by ``rest``:
    ``.more.names`` or ``:Kind``)."""
    names = (
        [str(k) for k in obj]
        if isinstance(obj, dict)
        else [str(i) for i in range(len(obj))]
        if isinstance(obj, list)
        else [k for k in vars(obj) if not k.startswith("_")]
        if hasattr(obj, "__dict__")
        else []
    )
    if name in names:
        return
    given = _joined(path, name) + rest
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    hint = f" Did you mean {_joined(path, close[0]) + rest}?" if close else ""
    where = path.split(".", 1)[1] if "." in path else ""
    where = where or "the graph manager"
    raise UserError(
        f"The hyperparameter {given} names nothing the preset's graph manager holds: {where} "
        f"({type(obj).__name__}) has no setting '{name}'.{hint}"
    )


def _check_safe(name: str) -> None:
    if name.startswith("__"):
        raise ValueError(f"Attempting to set unsafe property name {name}")
