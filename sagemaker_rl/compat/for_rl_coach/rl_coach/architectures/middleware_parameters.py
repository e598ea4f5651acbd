"""``rl_coach.architectures.middleware_parameters``: a network's middleware (``middleware_parameters``), Coach's
names and defaults."""

from __future__ import annotations

from typing import Any

from rl_coach.base_parameters import MiddlewareScheme, NetworkComponentParameters


class MiddlewareParameters(NetworkComponentParameters):
    def __init__(
        self,
        parameterized_class_name: str,
        activation_function: str = "relu",
        scheme: Any = MiddlewareScheme.Medium,
        batchnorm: bool = False,
        dropout_rate: float = 0.0,
        name: str = "middleware",
        dense_layer: Any = None,
        is_training: bool = False,
    ) -> None:
        super().__init__(dense_layer=dense_layer)
        self.activation_function = activation_function
        self.scheme = scheme
        self.batchnorm = batchnorm
        self.dropout_rate = dropout_rate
        self.name = name
        self.is_training = is_training
        self.parameterized_class_name = parameterized_class_name


class FCMiddlewareParameters(MiddlewareParameters):
    def __init__(
        self,
        activation_function: str = "relu",
        scheme: Any = MiddlewareScheme.Medium,
        batchnorm: bool = False,
        dropout_rate: float = 0.0,
        name: str = "middleware_fc_embedder",
        dense_layer: Any = None,
        is_training: bool = False,
        num_streams: int = 1,
    ) -> None:
        super().__init__(
            "FCMiddleware", activation_function, scheme, batchnorm, dropout_rate, name, dense_layer, is_training
        )
        self.num_streams = num_streams


class LSTMMiddlewareParameters(MiddlewareParameters):
    def __init__(
        self,
        activation_function: str = "relu",
        number_of_lstm_cells: int = 256,
        scheme: Any = MiddlewareScheme.Medium,
        batchnorm: bool = False,
        dropout_rate: float = 0.0,
        name: str = "middleware_lstm_embedder",
        dense_layer: Any = None,
        is_training: bool = False,
    ) -> None:
        super().__init__(
            "LSTMMiddleware", activation_function, scheme, batchnorm, dropout_rate, name, dense_layer, is_training
        )
        self.number_of_lstm_cells = number_of_lstm_cells
