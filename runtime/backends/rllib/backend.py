"""The RLlib training session behind the loop driver's :class:`runtime.train.backend.Backend` interface."""

from __future__ import annotations

from typing import Any


class RLlibBackendFactory:
    """``BACKEND`` of :mod:`runtime.backends.rllib` (see :mod:`runtime.backends`)."""

    name = "rllib"
    distributed = True
    """Trains across the hosts of a multi-host job (a Ray cluster)."""

    def claims(self, algorithm: str) -> bool:
        return True  # RLlib's own check names the closest algorithm for a name it does not know

    def validator(self) -> Any:
        from runtime.backends.rllib.config import RLlibValidator

        return RLlibValidator()


BACKEND = RLlibBackendFactory()
