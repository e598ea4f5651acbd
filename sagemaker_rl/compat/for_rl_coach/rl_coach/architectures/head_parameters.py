"""``rl_coach.architectures.head_parameters``: a network's heads (``heads_parameters``), with the names and defaults
of Coach's ``rl_coach/architectures/head_parameters.py``: every head takes ``activation_function`` and ``name``
(each head's own defaults below), ``num_output_head_copies=1``, ``rescale_gradient_from_head_by_factor=1.0``,
``loss_weight=1.0`` and ``dense_layer=None``."""

from __future__ import annotations

from typing import Any

from rl_coach.base_parameters import NetworkComponentParameters


class HeadParameters(NetworkComponentParameters):
    def __init__(
        self,
        parameterized_class_name: str,
        activation_function: str = "relu",
        name: str = "head",
        num_output_head_copies: int = 1,
        rescale_gradient_from_head_by_factor: float = 1.0,
        loss_weight: float = 1.0,
        dense_layer: Any = None,
        is_training: bool = False,
    ) -> None:
        super().__init__(dense_layer=dense_layer)
        self.activation_function = activation_function
        self.name = name
        self.num_output_head_copies = num_output_head_copies
        self.rescale_gradient_from_head_by_factor = rescale_gradient_from_head_by_factor
        self.loss_weight = loss_weight
        self.parameterized_class_name = parameterized_class_name
        self.is_training = is_training


class _Head(HeadParameters):
    """A head with its own class name, activation and name defaults (the class attributes)."""

    HEAD = ""
    ACTIVATION = "relu"
    NAME = ""

    def __init__(
        self,
        activation_function: str | None = None,
        name: str | None = None,
        num_output_head_copies: int = 1,
        rescale_gradient_from_head_by_factor: float = 1.0,
        loss_weight: float = 1.0,
        dense_layer: Any = None,
    ) -> None:
        super().__init__(
            self.HEAD,
            activation_function or self.ACTIVATION,
            name or self.NAME,
            num_output_head_copies,
            rescale_gradient_from_head_by_factor,
            loss_weight,
            dense_layer,
        )


class _HeadWithBias(_Head):
    """A head with an ``output_bias_initializer`` (default None)."""

    def __init__(self, *args: Any, output_bias_initializer: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.output_bias_initializer = output_bias_initializer


class PPOHeadParameters(_Head):
    HEAD, ACTIVATION, NAME = "PPOHead", "tanh", "ppo_head_params"


class VHeadParameters(_HeadWithBias):
    HEAD, NAME = "VHead", "v_head_params"

    def __init__(self, *args: Any, initializer: str = "normalized_columns", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initializer = initializer


class DDPGVHeadParameters(VHeadParameters):
    HEAD, NAME = "DDPGVHead", "ddpg_v_head_params"


class CategoricalQHeadParameters(_HeadWithBias):
    HEAD, NAME = "CategoricalQHead", "categorical_q_head_params"


class RegressionHeadParameters(_HeadWithBias):
    HEAD, NAME = "RegressionHead", "q_head_params"


class DDPGActorHeadParameters(_Head):
    HEAD, ACTIVATION, NAME = "DDPGActor", "tanh", "policy_head_params"

    def __init__(self, *args: Any, batchnorm: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batchnorm = batchnorm


class DNDQHeadParameters(_Head):
    HEAD, NAME = "DNDQHead", "dnd_q_head_params"


class DuelingQHeadParameters(_Head):
    HEAD, NAME = "DuelingQHead", "dueling_q_head_params"


class MeasurementsPredictionHeadParameters(_Head):
    HEAD, NAME = "MeasurementsPredictionHead", "measurements_prediction_head_params"


class NAFHeadParameters(_Head):
    HEAD, ACTIVATION, NAME = "NAFHead", "tanh", "naf_head_params"


class PolicyHeadParameters(_Head):
    HEAD, ACTIVATION, NAME = "PolicyHead", "tanh", "policy_head_params"


class PPOVHeadParameters(_HeadWithBias):
    HEAD, NAME = "PPOVHead", "ppo_v_head_params"


class QHeadParameters(_HeadWithBias):
    HEAD, NAME = "QHead", "q_head_params"


class ClassificationHeadParameters(_Head):
    HEAD, NAME = "ClassificationHead", "classification_head_params"


class QuantileRegressionQHeadParameters(_HeadWithBias):
    HEAD, NAME = "QuantileRegressionQHead", "quantile_regression_q_head_params"


class RainbowQHeadParameters(_Head):
    HEAD, NAME = "RainbowQHead", "rainbow_q_head_params"


class ACERPolicyHeadParameters(_Head):
    HEAD, NAME = "ACERPolicyHead", "acer_policy_head_params"
