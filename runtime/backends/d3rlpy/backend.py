"""The d3rlpy training session behind the loop driver's :class:`runtime.train.backend.Backend` interface."""

from __future__ import annotations

from typing import Any


class D3rlpyBackendFactory:
    """``BACKEND`` of :mod:`runtime.backends.d3rlpy` (see :mod:`runtime.backends`)."""

    name = "d3rlpy"
    distributed = False
    """Offline training runs on the first host."""

    def claims(self, algorithm: str) -> bool:
        from runtime.backends.d3rlpy.config import is_offline_algorithm

        return is_offline_algorithm(algorithm)

    def validator(self) -> Any:
        from runtime.backends.d3rlpy.config import D3rlpyValidator

        return D3rlpyValidator()


BACKEND = D3rlpyBackendFactory()
