"""The serving policy of a d3rlpy model, handed to THE export pipeline (:mod:`runtime.export.pipeline`).

For discrete actions the module maps a batch of observations to ``(actions, action_probabilities, q_values)``:
the greedy action of the learned policy (for BCQ: the best action its imitation filter allows, exactly as d3rlpy's
``predict``) and the probabilities of the policy that off-policy evaluation scores, ``softmax(Q / temperature)`` over
the allowed actions. Those probabilities are what Batch Transform returns (``predictions[0]``), so its output can
drive the next data collection. Its plain-layer description (:data:`runtime.export.policy.Q_ENSEMBLE`: the
observation scaler as an affine filter, one MLP per Q-function of the ensemble, BCQ's imitator MLP and filter
threshold) lets the pipeline build the TensorFlow SavedModel. For continuous actions the module returns ``actions``
(d3rlpy's own policy graph; continuous BCQ samples from its VAE, so it is random and has no plain-layer form).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from runtime.backends.d3rlpy.config import is_discrete
from runtime.backends.d3rlpy.library import load_algo
from runtime.export.mlp import NotAnMLP, named_mlp
from runtime.export.policy import (
    DETERMINISTIC,
    Q_ENSEMBLE,
    ActionHead,
    ObservationFilter,
    PolicyDescription,
    ServingModel,
)
from runtime.names import CHECKPOINT_DIR, CONFIG_JSON, D3RLPY_MODEL_FILE, METADATA_JSON

STOCHASTIC_BCQ = (
    "continuous BCQ samples candidate actions from its VAE (random latents) and picks the best by Q, so its "
    "policy is random and has no exact plain-layer description: TorchScript and ONNX only"
)


def _torch() -> Any:
    import torch  # heavy: torch (~1.5 s)

    return torch


def discrete_policy_module(algo: Any, temperature: float) -> Any:
    """A ``torch.nn.Module``: observations (B, k) float32 -> (actions int64 (B,), probabilities (B, n), q (B, n))."""
    import torch  # heavy: torch (~1.5 s)
    from d3rlpy.algos import DiscreteBCQ  # heavy: d3rlpy (offline jobs only)

    impl = algo.impl
    scaler = algo.observation_scaler
    imitator = impl.modules.imitator if isinstance(algo, DiscreteBCQ) else None
    threshold = math.log(algo.config.action_flexibility) if imitator is not None else 0.0
    q_funcs = impl.modules.q_funcs

    class DiscretePolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_funcs = q_funcs
            self.imitator = imitator
            self.scaler = scaler
            self.temperature = float(temperature)
            self.threshold = float(threshold)

        def forward(self, observations: Any) -> tuple[Any, Any, Any]:
            x = observations.float()
            if self.scaler is not None:
                x = self.scaler.transform(x)
            q = torch.stack([f(x).q_value for f in self.q_funcs], dim=0).mean(dim=0)
            if self.imitator is not None:
                log_probs = torch.log_softmax(self.imitator(x).logits, dim=1)
                allowed = (log_probs - log_probs.max(dim=1, keepdim=True).values) > self.threshold
                shifted = q - q.min(dim=1, keepdim=True).values + 1e-5
                actions = (shifted * allowed.float()).argmax(dim=1)
                logits = torch.where(allowed, q / self.temperature, torch.full_like(q, -1e30))
            else:
                actions = q.argmax(dim=1)
                logits = q / self.temperature
            probabilities = torch.softmax(logits, dim=1)
            return actions, probabilities, q

    module = DiscretePolicy()
    module.eval()
    return module


def continuous_policy_module(algo: Any) -> Any:
    """A ``torch.nn.Module``: observations (B, k) -> (actions (B, m),), the computation of d3rlpy's ``predict`` (for BCQ
    it samples candidate actions from its generative model, so the output is random unless torch is seeded)."""
    import torch  # heavy: torch (~1.5 s)

    impl = algo.impl
    observation_scaler = algo.observation_scaler
    action_scaler = algo.action_scaler
    impl.modules.freeze()

    class ContinuousPolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Registered so that the module owns (and exports) the weights the computation reads.
            self.networks = torch.nn.ModuleList(
                [m for m in vars(impl.modules).values() if isinstance(m, torch.nn.Module)]
            )

        def forward(self, observations: Any) -> Any:
            x = observations.float()
            if observation_scaler is not None:
                x = observation_scaler.transform(x)
            action = impl.inner_predict_best_action(x)
            if action_scaler is not None:
                action = action_scaler.reverse_transform(action)
            return (action,)

    module = ContinuousPolicy()
    module.eval()
    return module


def policy_tables(
    module: Any, observations: np.ndarray, batch: int = 8192
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a discrete policy module over ``observations``: (actions, probabilities, q values) as numpy arrays."""
    torch = _torch()
    actions, probs, qs = [], [], []
    with torch.no_grad():
        for start in range(0, len(observations), batch):
            a, p, q = module(torch.as_tensor(np.asarray(observations[start : start + batch], dtype=np.float32)))
            actions.append(a.numpy())
            probs.append(p.numpy().astype(np.float64))
            qs.append(q.numpy().astype(np.float64))
    return np.concatenate(actions), np.concatenate(probs), np.concatenate(qs)


def scaler_filter(scaler: Any) -> ObservationFilter | None:
    """d3rlpy's observation scaler as the affine :class:`ObservationFilter` it is; raises :class:`NotAnMLP` for others.

    ``StandardObservationScaler``: ``(x - mean) / (std + eps)``; ``MinMaxObservationScaler``:
    ``(x - min) / (max - min) * 2 - 1 = (x - (max + min) / 2) / ((max - min) / 2)``.
    """
    if scaler is None:
        return None
    name = type(scaler).__name__
    if name == "StandardObservationScaler":
        return ObservationFilter(
            np.asarray(scaler.mean, np.float64), np.asarray(scaler.std, np.float64), float(scaler.eps), None
        )
    if name == "MinMaxObservationScaler":
        low, high = np.asarray(scaler.minimum, np.float64), np.asarray(scaler.maximum, np.float64)
        return ObservationFilter((high + low) / 2, (high - low) / 2, 0.0, None)
    raise NotAnMLP(f"the observation scaler {name} is not an affine transform rlrt can describe")


def _output_of(torch: Any, network: Any, pick: Any) -> Any:
    """``network`` with its output tensor picked out of d3rlpy's output object (for :func:`named_mlp`)."""

    class Picked(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, x: Any) -> Any:
            return pick(self.network, x)

    return Picked()


def describe_discrete(algo: Any, head: ActionHead) -> tuple[PolicyDescription, dict[str, np.ndarray]]:
    """The :data:`Q_ENSEMBLE` description of a discrete d3rlpy Q-learner (DQN, DoubleDQN, DiscreteBCQ, ...).

    Raises :class:`NotAnMLP` when a part is not plain layers (an encoder with normalisation or dropout, a
    distributional Q-function, an unsupported scaler).
    """
    torch = _torch()
    dim = int(algo.observation_shape[0])
    obs_filter = scaler_filter(algo.observation_scaler)
    weights: dict[str, np.ndarray] = {}
    q_functions = []
    for index, q_func in enumerate(algo.impl.modules.q_funcs):
        layers, named = named_mlp(_output_of(torch, q_func, lambda m, x: m(x).q_value), dim, f"q{index}_")
        q_functions.append(layers)
        weights.update(named)
    imitator = None
    if head.filter_threshold is not None:
        module = algo.impl.modules.imitator
        if not (hasattr(module, "_encoder") and hasattr(module, "_fc")):
            raise NotAnMLP(f"the imitator {type(module).__name__} is not d3rlpy's CategoricalPolicy")
        # The raw logits: Categorical normalises them, which log_softmax (the filter) does anyway.
        # d3rlpy's CategoricalPolicy layers (docs/ARCHITECTURE.md, "Private APIs we rely on").
        raw_logits = _output_of(torch, module, lambda m, x: m._fc(m._encoder(x)))  # noqa: SLF001
        imitator, named = named_mlp(raw_logits, dim, "imitator_")
        weights.update(named)
    return PolicyDescription(dim, head, obs_filter, q_functions=q_functions, imitator=imitator), weights


def serving_model(algo: Any, discrete: bool, temperature: float) -> ServingModel:
    """The :class:`ServingModel` of a trained d3rlpy algorithm, checked against ``algo.predict`` (and, for discrete
    actions, ``algo.predict_value``)."""
    from d3rlpy.algos import DiscreteBCQ  # heavy: d3rlpy (offline jobs only)

    dim = int(algo.observation_shape[0])
    scaler = algo.observation_scaler
    try:
        obs_filter = scaler_filter(scaler)
    except NotAnMLP:
        obs_filter = None
    filter_name = f"d3rlpy {type(scaler).__name__}"
    if not discrete:
        head = ActionHead(DETERMINISTIC, int(algo.action_size))

        def no_description() -> Any:
            raise NotAnMLP(STOCHASTIC_BCQ)

        return ServingModel(
            continuous_policy_module(algo),
            dim,
            head,
            obs_filter,
            no_description,
            filter_name,
            reference=lambda observations: {"actions": algo.predict(observations)},
            stochastic=STOCHASTIC_BCQ if type(algo).__name__ == "BCQ" else None,
        )
    threshold = math.log(algo.config.action_flexibility) if isinstance(algo, DiscreteBCQ) else None
    head = ActionHead(Q_ENSEMBLE, int(algo.action_size), temperature=float(temperature), filter_threshold=threshold)

    def reference(observations: np.ndarray) -> dict[str, np.ndarray]:
        q = [algo.predict_value(observations, np.full(len(observations), a)) for a in range(head.size)]
        return {"actions": algo.predict(observations), "q_values": np.stack(q, axis=1)}

    return ServingModel(
        discrete_policy_module(algo, temperature),
        dim,
        head,
        obs_filter,
        lambda: describe_discrete(algo, head),
        filter_name,
        reference=reference,
        extra={"temperature": float(temperature)},
    )


def serving_model_from_model_dir(model_dir: Path) -> ServingModel:
    """The serving model of a d3rlpy model folder (``checkpoint/model.d3``; the temperature from ``config.json``)."""
    metadata = json.loads((model_dir / METADATA_JSON).read_text())
    config_path = model_dir / CONFIG_JSON
    config = (json.loads(config_path.read_text()).get("config") or {}) if config_path.is_file() else {}
    temperature = float(config.get("ope_temperature", config.get("softmax_temperature", 1.0)))
    algo = load_algo(model_dir / CHECKPOINT_DIR / D3RLPY_MODEL_FILE)
    return serving_model(algo, is_discrete(str(metadata.get("algorithm"))), temperature)
