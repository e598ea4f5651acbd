"""``model.onnx``: a Coach model's policy as SageMaker RL Coach's MXNet serving loaded it (the examples'
``deploy-mxnet-coach.py``: ``model_fn`` imports ``model.onnx`` from the model folder, ``transform_fn`` answers the
list of its outputs). Written only for a model trained through the Coach layer (its preset's ``serving: coach``).

What Coach's file held, from Coach's MXNet heads (``rl_coach/architectures/mxnet_components/heads/``: ``v_head.py``,
``ppo_head.py``, ``q_head.py``) and SageMaker RL's ``onnx_utils.py`` (``fix_onnx_model`` picked the graph's outputs
by node name: ``get_correct_outputs``, ``ppo_discrete_outputs``, ``ppo_continuous_outputs``):

- discrete (Clipped) PPO: ``[value, action probabilities]``: the ``VHead``'s ``dense(x).squeeze()``, one value per
  observation (``[batch]``), then the ``DiscretePPOHead``'s softmax (``[batch, actions]``);
- continuous (Clipped) PPO: ``[value, mean, std]``: the same value, then the ``ContinuousPPOHead``'s ``dense(x)``
  (the mean, ``[batch, actions]``: no tanh, no clipping) and ``broadcast_like(exp(log_std), mean)`` (the standard
  deviation, ``[batch, actions]``, always > 0);
- DQN: the ``QHead``'s one output, the Q-values (``[batch, actions]``).

Coach's mean was in the environment's action units and unclipped (Coach normalised no actions). RLlib's Gaussian
acts in [-1, 1] when ``normalize_actions`` is on and its connector unsquashes the sample ``low + (a + 1) * (high -
low) / 2`` then clips it; so the mean and std written here are that linear map's (the distribution of the actions
the environment got, before clipping), the mean unclipped as Coach's was: the action rlrt serves for an observation
is this mean clipped to the bounds. Coach's log-std was one learnt vector shared by every observation; RLlib's head
computes it per observation unless ``free_log_std``: ``std`` is ``exp`` of it either way. Other agents (SAC's
squashed Gaussian, DDPG) had no output selection in ``onnx_utils``: no ``model.onnx``, the reason in metadata.
Unlike Coach's file, the observation filter (Coach's ``pre_network_filter``, RLlib's MeanStdFilter) is inside the
graph: it takes raw observations, as the endpoint does.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from runtime.export.checks import ExportMismatch, assert_close, check_observations
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.onnx_export import ONNX_OPSET, onnx_outputs
from runtime.export.policy import CATEGORICAL, GAUSSIAN, OBSERVATIONS
from runtime.names import ACTION_PROBABILITIES, CONFIG_JSON, Q_VALUES, STATE_VALUE

COACH = "coach"
"""A preset's ``serving`` value (recorded in ``config.json``'s ``extras``) that asks for this export and answer."""
COACH_ONNX = "model.onnx"
ACTION_MEAN = "action_mean"
ACTION_STD = "action_std"
NOT_COACH = "not a Coach model"


def serving_convention(model_dir: Path) -> str:
    """``coach`` when the model folder's resolved config asks for Coach's serving answer, else ``rlrt``."""
    try:
        extras = json.loads((model_dir / CONFIG_JSON).read_text()).get("extras") or {}
    except (OSError, ValueError):  # a multi-agent policy's folder has none: rlrt's answer
        return "rlrt"
    return COACH if extras.get("serving") == COACH else "rlrt"


def coach_outputs(model: ExportInput) -> list[str] | None:
    """The outputs Coach's serving gave for this policy, in its order; None when Coach had no such agent."""
    estimates = model.serving.estimates
    if Q_VALUES in estimates:
        return [Q_VALUES]
    if STATE_VALUE in estimates and model.serving.head.kind == CATEGORICAL:
        return [STATE_VALUE, ACTION_PROBABILITIES]
    if STATE_VALUE in estimates and model.serving.head.kind == GAUSSIAN:
        return [STATE_VALUE, ACTION_MEAN, ACTION_STD]
    return None


def coach_module(model: ExportInput) -> Any:
    """Raw observations -> Coach's outputs (:func:`coach_outputs`), one torch module."""
    import torch  # heavy: torch (~1.5 s)

    names = coach_outputs(model) or []
    serving = model.serving
    head = serving.head
    # The Gaussian's linear map to the environment's units (identity unless RLlib normalised the actions).
    scaled = head.normalized and head.bounded
    low = np.asarray(head.low if scaled else [-1.0] * head.size, dtype=np.float32)
    high = np.asarray(head.high if scaled else [1.0] * head.size, dtype=np.float32)

    class CoachPolicy(torch.nn.Module):
        action_low: torch.Tensor
        action_half: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.policy = serving.module
            self.estimates = torch.nn.ModuleDict(dict(serving.estimates))
            self.register_buffer("action_low", torch.as_tensor(low))
            self.register_buffer("action_half", torch.as_tensor((high - low) / 2))

        def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, ...]:
            if names == [Q_VALUES]:
                return (self.estimates[Q_VALUES](observations),)
            value = self.estimates[STATE_VALUE](observations).reshape(-1)
            features = self.policy.features(observations)
            if ACTION_MEAN not in names:
                return value, torch.softmax(features, dim=-1)
            # RLlib's TorchDiagGaussian takes [mean, log_std] concatenated.
            mean, log_std = features[:, : head.size], features[:, head.size : 2 * head.size]
            if not scaled:
                return value, mean, torch.exp(log_std)
            return value, self.action_low + (mean + 1.0) * self.action_half, torch.exp(log_std) * self.action_half

    return CoachPolicy().eval()


class CoachOnnx(Exporter):
    """Coach's ``model.onnx``, checked in ONNX Runtime against the torch policy (its action probabilities against
    the serving module's too)."""

    name = "coach"
    files = (COACH_ONNX,)
    title = "Coach's deploy-mxnet-coach.py model"

    def skip_reason(self, model: ExportInput) -> str | None:
        if model.convention != COACH:
            return NOT_COACH
        if coach_outputs(model) is None:
            return (
                f"Coach's serving had no {model.serving.head.kind} agent rlrt can reproduce (a PPO agent's "
                "value and action probabilities, or value, mean and std; a DQN agent's Q-values)"
            )
        return None

    def skipped(self, reason: str) -> dict[str, Any]:
        return {} if reason == NOT_COACH else {self.name: None, "coach_skipped": reason}

    def export(self, model: ExportInput, dest: Path) -> None:
        import torch  # heavy: torch (~1.5 s)

        names = coach_outputs(model) or []
        example = torch.as_tensor(check_observations(model.serving.observation_dim, count=2))
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                coach_module(model),
                (example,),
                str(dest / COACH_ONNX),
                dynamo=False,
                input_names=[OBSERVATIONS],
                output_names=names,
                dynamic_axes={name: {0: "batch"} for name in [OBSERVATIONS, *names]},
                opset_version=ONNX_OPSET,
            )

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        import torch  # heavy: torch (~1.5 s)

        names = coach_outputs(model) or []
        got = onnx_outputs(dest / COACH_ONNX, model.observations)
        with torch.no_grad():
            expected = [o.numpy() for o in coach_module(model)(torch.as_tensor(model.observations))]
        tolerance = model.tolerance
        if len(got) != len(names) or any(len(o) != len(model.observations) for o in got):
            raise ExportMismatch(f"Coach's model.onnx answers {len(got)} outputs, expected {names}")
        error = assert_close("Coach's model.onnx", got, expected, tolerance)
        if ACTION_PROBABILITIES in names:  # the same probabilities the rlrt answer serves
            assert_close(
                "Coach's model.onnx probabilities vs the serving policy's",
                [got[names.index(ACTION_PROBABILITIES)]],
                [model.reference[1]],
                tolerance,
            )
        if ACTION_MEAN in names:  # the served action is the mean clipped to the bounds
            head = model.serving.head
            mean = got[names.index(ACTION_MEAN)]
            served = np.clip(mean, head.low, head.high) if head.bounded else mean
            assert_close(
                "Coach's model.onnx mean vs the serving policy's action", [served], [model.reference[0]], tolerance
            )
            if not np.all(got[names.index(ACTION_STD)] > 0):
                raise ExportMismatch("Coach's model.onnx answers a standard deviation that is not positive")
        return {
            self.name: {"path": COACH_ONNX, "outputs": names, "input": OBSERVATIONS},
            "max_abs_error": {self.name: error},
        }


__all__ = ["COACH", "COACH_ONNX", "CoachOnnx", "serving_convention", "coach_outputs"]
