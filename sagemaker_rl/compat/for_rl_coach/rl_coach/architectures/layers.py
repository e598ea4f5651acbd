"""``rl_coach.architectures.layers``: the layers a preset lists in an embedder's or middleware's ``scheme``
(``[Dense(64)]``), with the names of Coach's ``rl_coach/architectures/layers.py``."""

from __future__ import annotations

from typing import Any

from rl_coach._where import Recorded


class _Layer(Recorded):
    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted((k, repr(v)) for k, v in vars(self).items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Conv2d(_Layer):
    def __init__(self, num_filters: int, kernel_size: Any, strides: Any) -> None:
        self.num_filters = num_filters
        self.kernel_size = kernel_size
        self.strides = strides


class BatchnormActivationDropout(_Layer):
    def __init__(
        self, batchnorm: bool = False, activation_function: str | None = None, dropout_rate: float = 0
    ) -> None:
        self.batchnorm = batchnorm
        self.activation_function = activation_function
        self.dropout_rate = dropout_rate


class Dense(_Layer):
    def __init__(self, units: int) -> None:
        self.units = units


class NoisyNetDense(_Layer):
    def __init__(self, units: int) -> None:
        self.units = units
        self.sigma0 = 0.5


class Flatten(_Layer):
    pass
