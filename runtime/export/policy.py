"""The framework-neutral serving policy: raw observation batch -> action (and action probabilities).

A :class:`ServingPolicy` wraps a trained network (``body``: observations -> action-distribution inputs) with what
the training framework did around it, so the exported model takes the environment's raw observations and returns
what the environment gets:

- before the network: observation normalisation by fixed running statistics (RLlib's ``MeanStdFilter``:
  ``clip((x - mean) / (std + eps), -clip, clip)``);
- after it, for discrete actions: the greedy action (argmax) and the action probabilities (softmax); for several
  discrete parts (``MultiDiscrete``, a ``Tuple`` of ``Discrete``): each part's greedy action (``[batch, parts]``)
  and each part's probabilities, concatenated (``[batch, sum of the parts' sizes]``);
  for continuous actions: the deterministic action (the distribution's mean), unsquashed from [-1, 1] to the
  bounds when the framework normalises actions, and clipped to the bounds; for continuous and discrete actions
  together (ML-Agents' hybrid actions): one row of both, the continuous actions then each discrete part's greedy
  action (``[batch, size + parts]``), and the discrete parts' probabilities.

The same object is traced to TorchScript and ONNX, drives rollout videos and evaluation, and is described as plain
layers (:func:`runtime.export.mlp.mlp_description`) for the TensorFlow SavedModel built in TensorFlow's own
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

# Output names shared by every export (ONNX, TorchScript, SavedModel) and the HTTP API.
from runtime.export.mlagents_names import UnityBehavior
from runtime.export.mlp import NotAnMLP, mlp_description
from runtime.names import ACTION_PROBABILITIES, ACTIONS, OBSERVATIONS, Q_VALUES  # noqa: F401 - re-exported

CATEGORICAL = "categorical"
"""Discrete actions: network outputs are logits."""
GAUSSIAN = "gaussian"
"""Continuous actions: network outputs are the mean and log std of a diagonal Gaussian (mean first)."""
DETERMINISTIC = "deterministic"
"""Continuous actions: network outputs are the action itself."""
SQUASHED_GAUSSIAN = "squashed_gaussian"
"""Continuous actions (SAC): mean and log std of a Gaussian squashed by tanh; the action is ``tanh(mean)``."""
Q_ENSEMBLE = "q_ensemble"
"""Discrete actions from the mean of an ensemble of Q-functions (d3rlpy's DQN family), optionally filtered by an
imitator (discrete BCQ: actions whose log-probability ratio to the most likely one is above ``filter_threshold``);
outputs the greedy allowed action, ``softmax(Q / temperature)`` over the allowed actions, and the Q values."""
MULTI_CATEGORICAL = "multi_categorical"
"""Several discrete parts (``MultiDiscrete``, a ``Tuple`` of ``Discrete``): network outputs are the parts' logits,
concatenated (``ActionHead.parts`` gives their sizes)."""
HYBRID = "hybrid"
"""Continuous and discrete actions together (a ``Tuple`` of a 1-D ``Box`` and a ``Discrete`` or ``MultiDiscrete``,
ML-Agents' hybrid action space): network outputs are the Box's Gaussian (mean and log std, ``size`` each) then the
discrete parts' logits (``ActionHead.parts``)."""
HEAD_KINDS = (CATEGORICAL, GAUSSIAN, DETERMINISTIC, SQUASHED_GAUSSIAN, Q_ENSEMBLE, MULTI_CATEGORICAL, HYBRID)
DISCRETE_PARTS = (MULTI_CATEGORICAL, HYBRID)
"""The heads with ``parts``."""


@dataclass(frozen=True)
class ObservationFilter:
    """Fixed observation normalisation: ``clip((x - mean) / (std + eps), -clip, clip)``."""

    mean: np.ndarray
    std: np.ndarray
    eps: float
    clip: float | None
    demean: bool = True
    destd: bool = True
    name: str = "MeanStdFilter"  # what the model's metadata calls it

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": np.asarray(self.mean, dtype=np.float64).reshape(-1).tolist(),
            "std": np.asarray(self.std, dtype=np.float64).reshape(-1).tolist(),
            "eps": self.eps,
            "clip": self.clip,
            "demean": self.demean,
            "destd": self.destd,
        }


@dataclass(frozen=True)
class ActionHead:
    """How network outputs become actions."""

    kind: str
    """One of :data:`HEAD_KINDS`."""
    size: int
    """Number of discrete actions, or the (continuous) action vector's length."""
    start: int = 0
    """Discrete spaces: the first action's value."""
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    normalized: bool = False
    """Continuous: the network acts in [-1, 1], unsquashed to [low, high] (RLlib's normalize_actions)."""
    temperature: float = 1.0
    """:data:`Q_ENSEMBLE`: the softmax temperature of the action probabilities."""
    filter_threshold: float | None = None
    """:data:`Q_ENSEMBLE`: the imitator's log-ratio threshold (``log(action_flexibility)``), None without one."""
    parts: Sequence[int] | None = None
    """:data:`DISCRETE_PARTS`: each discrete part's number of actions (a multi-categorical ``size`` is their sum)."""
    starts: Sequence[int] | None = None
    """:data:`DISCRETE_PARTS`: each discrete part's first action's value (zeros when None)."""

    def __post_init__(self) -> None:
        if self.kind not in HEAD_KINDS:
            raise ValueError(f"unknown action head {self.kind!r}; expected one of {HEAD_KINDS}")
        if self.kind == MULTI_CATEGORICAL and (not self.parts or sum(self.parts) != self.size):
            raise ValueError(f"a multi-categorical head's parts {self.parts} must sum to its size {self.size}")
        if self.kind == HYBRID and not self.parts:
            raise ValueError("a hybrid head needs its discrete parts")

    @property
    def bounded(self) -> bool:
        return (
            self.low is not None
            and self.high is not None
            and bool(np.all(np.isfinite(self.low)))
            and bool(np.all(np.isfinite(self.high)))
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActionHead:
        """The head :meth:`to_json` wrote."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    def to_json(self) -> dict[str, Any]:
        """The head as written in ``policy_spec.json`` and ``metadata.json``."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "size": self.size,
            "start": self.start,
            "low": None if self.low is None else [float(v) for v in self.low],
            "high": None if self.high is None else [float(v) for v in self.high],
            "normalized": self.normalized,
            "bounded": self.bounded,
        }
        if self.kind == Q_ENSEMBLE:
            data.update(temperature=self.temperature, filter_threshold=self.filter_threshold)
        if self.kind in DISCRETE_PARTS:
            data.update(
                parts=[int(n) for n in self.parts or ()],
                starts=[int(v) for v in self.starts or [0] * len(self.parts or ())],
            )
        return data


def build_serving_policy(
    body: Any, observation_dim: int, head: ActionHead, obs_filter: ObservationFilter | None
) -> Any:
    """A ``torch.nn.Module``: float32 observations ``[batch, observation_dim]`` -> ``(actions[, probabilities])``."""
    import torch  # heavy: torch (~1.5 s)

    if head.kind == Q_ENSEMBLE:
        raise ValueError("a Q-ensemble head is the backend's own module (see runtime.backends.d3rlpy.policy)")

    class ServingPolicy(torch.nn.Module):
        """Observation batch -> (actions,) or (actions, action_probabilities)."""

        # Buffers registered in __init__ (register_buffer), declared for type checkers.
        obs_mean: torch.Tensor
        obs_scale: torch.Tensor
        low: torch.Tensor
        high: torch.Tensor
        part_starts: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.body = body
            self.observation_dim = observation_dim
            self.head_kind = head.kind
            self.size = head.size
            self.start = head.start
            self.normalized = head.normalized
            self.bounded = head.bounded and head.kind not in (CATEGORICAL, MULTI_CATEGORICAL)
            self.head = head  # how an environment takes the actions (env_action); not part of the traced graph
            self.parts = [int(n) for n in head.parts or ()]
            self.register_buffer(
                "part_starts", torch.as_tensor(list(head.starts or [0] * len(self.parts)) or [0], dtype=torch.int64)
            )
            self.has_filter = obs_filter is not None
            if obs_filter is not None:
                mean = obs_filter.mean if obs_filter.demean else np.zeros_like(obs_filter.mean)
                scale = (obs_filter.std + obs_filter.eps) if obs_filter.destd else np.ones_like(obs_filter.std)
                self.register_buffer("obs_mean", torch.as_tensor(np.asarray(mean, dtype=np.float32).reshape(-1)))
                self.register_buffer("obs_scale", torch.as_tensor(np.asarray(scale, dtype=np.float32).reshape(-1)))
                self.obs_clip = float(obs_filter.clip) if obs_filter.clip else 0.0
            if self.bounded:
                self.register_buffer("low", torch.as_tensor(np.asarray(head.low, dtype=np.float32)))
                self.register_buffer("high", torch.as_tensor(np.asarray(head.high, dtype=np.float32)))

        def filtered(self, observations: torch.Tensor) -> torch.Tensor:
            """Raw observations as the network takes them (flat, through the observation filter)."""
            x = observations.to(torch.float32).flatten(1)  # an image row may come shaped (videos, evaluation)
            if self.has_filter:
                x = (x - self.obs_mean) / self.obs_scale
                if self.obs_clip > 0:
                    x = torch.clamp(x, -self.obs_clip, self.obs_clip)
            return x

        def features(self, observations: torch.Tensor) -> torch.Tensor:
            """The action-distribution inputs for raw observations (other conventions build their outputs on it)."""
            features: torch.Tensor = self.body(self.filtered(observations))
            return features

        def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.features(observations)
            if self.head_kind == CATEGORICAL:
                probabilities = torch.softmax(out, dim=-1)
                actions = torch.argmax(out, dim=-1) + self.start
                return actions, probabilities
            if self.head_kind == MULTI_CATEGORICAL:  # each part's own argmax and softmax (RLlib's MultiCategorical)
                return self.parts_outputs(out[:, : self.size])
            action = self.continuous(out[:, : self.size])
            if self.head_kind == HYBRID:  # the Gaussian's mean and log std, then the parts' logits
                discrete, probabilities = self.parts_outputs(out[:, 2 * self.size : 2 * self.size + sum(self.parts)])
                return torch.cat([action, discrete.to(action.dtype)], dim=-1), probabilities
            return (action,)

        def parts_outputs(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Each discrete part's greedy action and its probabilities, concatenated."""
            parts = torch.split(logits, self.parts, dim=-1)
            actions = torch.stack([torch.argmax(part, dim=-1) for part in parts], dim=-1) + self.part_starts
            return actions, torch.cat([torch.softmax(part, dim=-1) for part in parts], dim=-1)

        def continuous(self, action: torch.Tensor) -> torch.Tensor:
            """The deterministic continuous action of the distribution inputs' first ``size`` columns."""
            if self.head_kind == SQUASHED_GAUSSIAN:
                action = torch.tanh(action)
            if self.bounded:
                if self.normalized:
                    action = self.low + (action + 1.0) * (self.high - self.low) / 2.0
                action = torch.maximum(torch.minimum(action, self.high), self.low)
            return action

    return ServingPolicy().eval()


def output_names(head: ActionHead) -> list[str]:
    """The policy's outputs, in order."""
    if head.kind == Q_ENSEMBLE:
        return [ACTIONS, ACTION_PROBABILITIES, Q_VALUES]
    return [ACTIONS, ACTION_PROBABILITIES] if head.kind in (CATEGORICAL, *DISCRETE_PARTS) else [ACTIONS]


def env_action(head: ActionHead | None, action: np.ndarray) -> Any:
    """One row of the ``actions`` output as the environment takes it: a discrete action as an ``int``, a hybrid
    row as ``(continuous actions, discrete action or actions)``, any other as the array (``head`` None: a policy
    whose head is not known, taken as a plain one)."""
    if head is not None and head.kind == HYBRID:
        discrete = np.rint(action[head.size :]).astype(np.int64)
        return action[: head.size].astype(np.float32), int(discrete[0]) if len(discrete) == 1 else discrete
    return int(action) if action.ndim == 0 else action


@dataclass(frozen=True)
class PolicyDescription:
    """Everything another framework needs to rebuild the serving policy (written as ``policy_spec.json``).

    ``layers`` is the network of the RLlib heads (observations -> distribution inputs). A :data:`Q_ENSEMBLE` head
    has ``q_functions`` instead (one MLP per ensemble member, observations -> Q values, averaged) and, for
    discrete BCQ, the ``imitator`` MLP (observations -> logits of the behaviour policy).
    """

    observation_dim: int
    head: ActionHead
    obs_filter: ObservationFilter | None
    layers: list[dict[str, Any]] = field(default_factory=list)
    q_functions: list[list[dict[str, Any]]] = field(default_factory=list)
    imitator: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``policy_spec.json`` document."""
        data = {
            "format": "rlrt-policy-spec/1",
            "observation_dim": self.observation_dim,
            "head": self.head.to_json(),
            "observation_filter": None if self.obs_filter is None else self.obs_filter.to_json(),
            "layers": self.layers,
            "outputs": output_names(self.head),
        }
        if self.head.kind == Q_ENSEMBLE:
            data.update(q_functions=self.q_functions, imitator=self.imitator)
        return data


@dataclass(frozen=True)
class ServingModel:
    """What a backend hands to the export pipeline (:func:`runtime.export.pipeline.export_serving`)."""

    module: Any
    """A ``torch.nn.Module``: float32 observations ``[batch, observation_dim]`` -> the outputs of ``head``."""
    observation_dim: int
    head: ActionHead
    obs_filter: ObservationFilter | None  # the observation normalisation baked into module (and its description)
    describe: Callable[[], tuple[PolicyDescription, dict[str, np.ndarray]]]
    """The plain-layer description and its weights; raises :class:`NotAnMLP` when there is none."""
    filter_name: str = "MeanStdFilter"
    reference: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None
    """The framework's own inference (by output name), which ``module`` must reproduce."""
    stochastic: str | None = None
    """Why the outputs are random (then ONNX is checked for shapes and bounds, not values), or None."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further keys of the ``serving`` metadata section."""
    unity: UnityBehavior | None = None
    """The Unity behavior(s) the policy drives (a Unity ML-Agents job), None for any other environment."""
    estimates: Mapping[str, Any] = field(default_factory=dict)
    """The policy's value estimates beside its actions, by name, each a ``torch.nn.Module`` taking what ``module``
    takes: ``state_value`` (``[batch]``, an actor-critic's value function) or ``q_values`` (``[batch, actions]``, a
    value-based policy's); what a Coach-shaped export serves (:mod:`runtime.export.coach_export`)."""


ServingModels = ServingModel | Mapping[str, ServingModel]
"""What a backend exports: one serving model, or one per policy id (a multi-agent model)."""


def serving_model_of(policy: Any, head: ActionHead, obs_filter: ObservationFilter | None) -> ServingModel:
    """The :class:`ServingModel` of a :func:`build_serving_policy` module (its body described as one MLP)."""
    dim = int(policy.observation_dim)

    def describe() -> tuple[PolicyDescription, dict[str, np.ndarray]]:
        if head.kind in DISCRETE_PARTS:  # the plain-layer exporters (TensorFlow) know one categorical head
            raise NotAnMLP(f"a {head.kind.replace('_', '-')} head has no plain-layer description")
        layers, weights = mlp_description(policy.body, dim, None if head.kind == CATEGORICAL else head.size)
        return PolicyDescription(dim, head, obs_filter, layers), weights

    return ServingModel(policy, dim, head, obs_filter, describe, obs_filter.name if obs_filter else "MeanStdFilter")
