"""Training backends: the libraries that train a policy (RLlib online, d3rlpy offline), behind one interface.

A backend module exposes ``BACKEND``, an object with:

- ``claims(algorithm) -> bool``: whether it trains ``algorithm`` (a preset's ``algorithm`` or ``rl.training.run``);
- ``validator()``: the :class:`runtime.config.hyperparameters.ConfigValidator` of its ``rl.training.config.*`` keys;
- ``create(context) -> runtime.train.backend.Backend``: the training session the one loop driver runs
  (see :mod:`runtime.train.backend`).

:data:`BACKENDS` lists them in the order they are asked; RLlib comes last because it claims every algorithm RLlib
has (and names the closest one for any other). Adding a backend (SB3, TorchRL, ...) is a module and a line here; no
driver code changes.
"""

from __future__ import annotations

import importlib
from typing import Any

BACKENDS: tuple[str, ...] = ("runtime.backends.d3rlpy", "runtime.backends.rllib")
"""Backend modules, asked in this order which one trains an algorithm."""


def backend_for(algorithm: str) -> Any:
    """The ``BACKEND`` object of the first backend module that claims ``algorithm``."""
    for name in BACKENDS:
        backend = importlib.import_module(name).BACKEND
        if backend.claims(algorithm):
            return backend
    raise AssertionError(f"no backend claims {algorithm!r}; the last one in BACKENDS must claim every algorithm")


def validator_for(algorithm: str) -> Any:
    """The configuration validator of the backend that trains ``algorithm`` (for hyperparameter resolution)."""
    return backend_for(algorithm).validator()
