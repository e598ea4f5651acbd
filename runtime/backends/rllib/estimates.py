"""An RLlib serving policy's value estimates beside its actions (:attr:`ServingModel.estimates`): an actor-critic
module's value function (``compute_values``, PPO's value head) or a value-based module's Q-values, each a torch
module taking the raw observations the serving policy takes (its observation filter applied first)."""

from __future__ import annotations

from dataclasses import replace

from runtime.export.policy import ServingModel
from runtime.names import Q_VALUES, STATE_VALUE


def with_estimates(model: ServingModel) -> ServingModel:
    """``model`` with the estimates its RLModule computes (none for a recurrent, action-masked or image module)."""
    import torch  # heavy: torch (~1.5 s)

    policy = model.module
    body = getattr(policy, "body", None)
    module = getattr(body, "module", None)
    if module is None or getattr(body, "masked", True) or len(getattr(module.observation_space, "shape", ())) != 1:
        return model
    if callable(getattr(module, "is_stateful", None)) and module.is_stateful():
        return model

    class QValues(torch.nn.Module):
        """Raw observations -> the Q-values ``[batch, actions]`` (a value-based policy's categorical logits)."""

        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            q_values: torch.Tensor = self.policy.features(observations)
            return q_values

    if getattr(body, "value_based", False):
        return replace(model, estimates={Q_VALUES: QValues().eval()})
    if not callable(getattr(module, "compute_values", None)) or not hasattr(module, "vf"):
        return model
    value_function = module.compute_values

    class StateValue(torch.nn.Module):
        """Raw observations -> the value function's estimate ``[batch]`` (RLlib's ``compute_values``)."""

        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            values: torch.Tensor = value_function({"obs": self.policy.filtered(observations)})
            return values

    return replace(model, estimates={STATE_VALUE: StateValue().eval()})
