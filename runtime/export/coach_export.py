"""``model.onnx``: a Coach model's policy as SageMaker RL Coach's MXNet serving loaded it (the examples'
``deploy-mxnet-coach.py``: ``model_fn`` imports ``model.onnx`` from the model folder, ``transform_fn`` answers the
list of its outputs). Written only for a model trained through the Coach layer (its preset's ``serving: coach``).

What Coach's file held, from Coach's MXNet heads and SageMaker RL's ``onnx_utils.fix_onnx_model`` (which picked the
graph's outputs): for a discrete (Clipped) PPO agent ``[value, action probabilities]``: the ``VHead``'s
``dense(x).squeeze()``, one value per observation (shape ``[batch]``), then the ``DiscretePPOHead``'s softmax
(``[batch, actions]``); for a DQN agent the ``QHead``'s one output, the Q-values (``[batch, actions]``). A continuous
PPO agent's ``[value, mean, std]`` is not written. Unlike Coach's file, the observation filter (Coach's
``pre_network_filter``, RLlib's MeanStdFilter) is inside the graph: it takes raw observations, as the endpoint does.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from runtime.export.checks import ExportMismatch, assert_close, check_observations, tolerance_for
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.onnx_export import ONNX_OPSET, onnx_outputs
from runtime.export.policy import CATEGORICAL, OBSERVATIONS
from runtime.names import ACTION_PROBABILITIES, CONFIG_JSON, Q_VALUES

COACH = "coach"
"""A preset's ``serving`` value (recorded in ``config.json``'s ``extras``) that asks for this export and answer."""
COACH_ONNX = "model.onnx"
STATE_VALUE = "state_value"
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
    return None


def coach_module(model: ExportInput) -> Any:
    """Raw observations -> Coach's outputs (:func:`coach_outputs`), one torch module."""
    import torch  # heavy: torch (~1.5 s)

    names = coach_outputs(model) or []
    serving = model.serving

    class CoachPolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = serving.module
            self.estimates = torch.nn.ModuleDict(dict(serving.estimates))

        def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, ...]:
            if names == [Q_VALUES]:
                return (self.estimates[Q_VALUES](observations),)
            value = self.estimates[STATE_VALUE](observations).reshape(-1)
            return value, torch.softmax(self.policy.features(observations), dim=-1)

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
            return (f"Coach's serving had no {model.serving.head.kind} agent rlrt can reproduce (a discrete PPO "
                    "agent's value and action probabilities, a DQN agent's Q-values)")
        return None

    def skipped(self, reason: str) -> dict[str, Any]:
        return {} if reason == NOT_COACH else {self.name: None, "coach_skipped": reason}

    def export(self, model: ExportInput, dest: Path) -> None:
        import torch  # heavy: torch (~1.5 s)

        names = coach_outputs(model) or []
        example = torch.as_tensor(check_observations(model.serving.observation_dim, count=2))
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(coach_module(model), (example,), str(dest / COACH_ONNX), dynamo=False,
                              input_names=[OBSERVATIONS], output_names=names,
                              dynamic_axes={name: {0: "batch"} for name in [OBSERVATIONS, *names]},
                              opset_version=ONNX_OPSET)

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        import torch  # heavy: torch (~1.5 s)

        names = coach_outputs(model) or []
        got = onnx_outputs(dest / COACH_ONNX, model.observations)
        with torch.no_grad():
            expected = [o.numpy() for o in coach_module(model)(torch.as_tensor(model.observations))]
        tolerance = tolerance_for(model.serving.observation_dim)
        error = assert_close("Coach's model.onnx", got, expected, tolerance)
        if ACTION_PROBABILITIES in names:  # the same probabilities the rlrt answer serves
            assert_close("Coach's model.onnx probabilities vs the serving policy's",
                         [got[names.index(ACTION_PROBABILITIES)]], [model.reference[1]], tolerance)
        if len(got) != len(names) or any(len(o) != len(model.observations) for o in got):
            raise ExportMismatch(f"Coach's model.onnx answers {len(got)} outputs, expected {names}")
        return {self.name: {"path": COACH_ONNX, "outputs": names, "input": OBSERVATIONS},
                "max_abs_error": {self.name: error}}


__all__ = ["COACH", "COACH_ONNX", "CoachOnnx", "serving_convention", "coach_outputs"]
