"""``policy.onnx``: the serving policy in ONNX (input ``observations``; outputs ``actions`` and, for discrete
actions, ``action_probabilities``, and for Q-ensembles ``q_values``), what ``rlrt serve`` and ``rlrt transform`` run
through ONNX Runtime."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from runtime.export.checks import TOLERANCE, ExportMismatch, check_observations, compare_outputs
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.policy import OBSERVATIONS, ActionHead, output_names
from runtime.names import ONNX_FILE

ONNX_OPSET = 17


def export_onnx(policy: Any, observation_dim: int, head: ActionHead, path: Path) -> None:
    """Export ``policy`` to ONNX at ``path`` with a dynamic batch dimension (torch's TorchScript-based exporter,
    ``dynamo=False``: no onnxscript needed; it imports the ``onnx`` package, which the lock pins)."""
    import torch  # heavy: torch (~1.5 s)

    names = output_names(head)
    example = torch.as_tensor(check_observations(observation_dim, count=2))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            policy,
            (example,),
            str(path),
            dynamo=False,
            input_names=[OBSERVATIONS],
            output_names=names,
            dynamic_axes={name: {0: "batch"} for name in [OBSERVATIONS, *names]},
            opset_version=ONNX_OPSET,
        )


def onnx_outputs(path: Path, observations: np.ndarray) -> list[np.ndarray]:
    """Run an ONNX policy through ONNX Runtime (one thread)."""
    import onnxruntime as ort  # heavy: ONNX Runtime (serving only)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs: list[np.ndarray] = session.run(None, {OBSERVATIONS: observations})  # the policy's outputs are tensors
    return outputs


def _check_stochastic(head: ActionHead, got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """A random policy's ONNX outputs: the shapes of the torch outputs, finite, and within the action bounds."""
    for index, (a, b) in enumerate(zip(got, expected)):
        if a.shape != b.shape or not np.all(np.isfinite(a)):
            raise ExportMismatch(f"ONNX: output {index} has shape {a.shape} (expected {b.shape}) or is not finite")
    if head.bounded and not (
        np.all(got[0] >= np.asarray(head.low) - TOLERANCE) and np.all(got[0] <= np.asarray(head.high) + TOLERANCE)
    ):
        raise ExportMismatch("ONNX: actions outside the action bounds")


class Onnx(Exporter):
    """ONNX, run through ONNX Runtime and checked against the torch module (a random policy: its shapes and
    bounds only)."""

    name = "onnx"
    files = (ONNX_FILE,)
    title = "ONNX"

    def export(self, model: ExportInput, dest: Path) -> None:
        serving = model.serving
        export_onnx(serving.module, serving.observation_dim, serving.head, dest / ONNX_FILE)

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        serving = model.serving
        got = onnx_outputs(dest / ONNX_FILE, model.observations)
        model.outputs[self.name] = got
        error: float | None = None
        if serving.stochastic:
            _check_stochastic(serving.head, got, model.reference)
        else:
            error = compare_outputs("ONNX", serving.head, got, model.reference, tolerance=model.tolerance)
        return {self.name: ONNX_FILE, "onnx_opset": ONNX_OPSET, "max_abs_error": {self.name: error}}
