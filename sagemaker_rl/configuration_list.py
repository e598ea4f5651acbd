"""``ConfigurationList``: SageMaker RL's holder of ``rl.*`` hyperparameters for a Coach graph manager (the names of
``sagemaker_rl.configuration_list``; ``CoachConfigurationList`` in :mod:`sagemaker_rl.coach_launcher` adds Coach's
step kinds).

A hyperparameter names a path into the object: ``agent_params.algorithm.discount`` sets that attribute (a dict is
entered by key: ``agent_params.network_wrappers.main.learning_rate``), and ``name:Kind`` wraps the value in an
allowed type first (``improve_steps:TrainingSteps`` = 100 -> ``TrainingSteps(100)``). Values given as text become
numbers where they read as one.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

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
            path = key[len(prefix):]
            log.debug("Configuring %s with %s=%s", prefix, path, value)
            try:
                self._set_rl_property_value(config_object, path, value, prefix)
            except Exception:
                print(f"Failure while applying hyperparameter {prefix}{path}={value}")
                raise
            del self.hp_dict[key]

    def _set_rl_property_value(self, obj: Any, key: str, val: Any, path: str = "") -> None:
        """Set ``key`` (``a.b.c``, the last part optionally ``c:Kind``) under ``obj`` to ``val``. Instance attributes
        only: a name starting with ``__`` is refused."""
        head, dot, rest = key.partition(".")
        if dot:
            _check_safe(head)
            child = obj[head] if isinstance(obj, dict) else vars(obj)[head]
            self._set_rl_property_value(child, rest, val, f"{path}.{head}")
            return
        key, val = self._parse_type(key, val)
        _check_safe(key)
        if isinstance(obj, dict):
            obj[key] = val
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


def _check_safe(name: str) -> None:
    if name.startswith("__"):
        raise ValueError(f"Attempting to set unsafe property name {name}")
