"""``rl_coach.architectures.embedder_parameters``: an input embedder (a network's
``input_embedders_parameters[<input>]``), Coach's names and defaults."""

from __future__ import annotations

from typing import Any

from rl_coach.base_parameters import EmbedderScheme, NetworkComponentParameters


class InputEmbedderParameters(NetworkComponentParameters):
    def __init__(
        self,
        activation_function: str = "relu",
        scheme: Any = EmbedderScheme.Medium,
        batchnorm: bool = False,
        dropout_rate: float = 0.0,
        name: str = "embedder",
        input_rescaling: dict | None = None,
        input_offset: dict | None = None,
        input_clipping: Any = None,
        dense_layer: Any = None,
        is_training: bool = False,
        flatten: bool = True,
    ) -> None:
        super().__init__(dense_layer=dense_layer)
        self.activation_function = activation_function
        self.scheme = scheme
        self.batchnorm = batchnorm
        self.dropout_rate = dropout_rate
        self.input_rescaling = (
            {"image": 255.0, "vector": 1.0, "tensor": 1.0} if input_rescaling is None else input_rescaling
        )
        self.input_offset = {"image": 0.0, "vector": 0.0, "tensor": 0.0} if input_offset is None else input_offset
        self.input_clipping = input_clipping
        self.name = name
        self.is_training = is_training
        self.flatten = flatten
