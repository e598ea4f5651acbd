"""``mlagents/<Behavior>.onnx``: a Unity job's policy in ML-Agents' own ONNX convention
(:mod:`runtime.export.mlagents_names`), to drop onto an Agent's Behavior Parameters in the game.

The graph takes the sensors as Unity feeds them (``obs_i``, cameras channel-first), joins them into the flat
observation rlrt's policy was trained on (cameras back to (H, W, C), sensors concatenated in order, as RLlib
flattens them), applies the observation normalisation the job trained with, and runs the trained network. Then:

- continuous actions: RLlib acts with ``clip(a, -1, 1)`` of a Gaussian sample ``a``; ML-Agents' actor with
  ``clamp(x, -3, 3) / 3`` of its own sample ``x``. The graph scales the Gaussian by 3 into ML-Agents' units and
  applies ML-Agents' clamp, so the game gets exactly the action RLlib's policy chose: the sample
  (``continuous_actions``) and the mean (``deterministic_continuous_actions``). A tanh-squashed Gaussian (SAC) is
  squashed instead of clipped, and its deterministic action is ``tanh(mean)``, in [-1, 1] like every action Unity
  takes;
- discrete actions: each branch's logits masked as ML-Agents masks them (``logits * mask - 1e8 * (1 - mask)``),
  a sample of their softmax (``discrete_actions``) and their arg-max (``deterministic_discrete_actions``), int64;
- both (a hybrid head): the continuous outputs, then the discrete ones, as ML-Agents' hybrid actions.

Jobs the convention cannot express are skipped with the reason (:meth:`MLAgentsOnnx.skip_reason`); every file
written passes :func:`runtime.export.mlagents_check.check_mlagents_model` or none is kept.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from runtime.export import mlagents_names as ml
from runtime.export.checks import check_observations, export_tolerance, torch_outputs
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.mlagents_check import check_mlagents_model
from runtime.export.policy import (
    CATEGORICAL,
    DETERMINISTIC,
    GAUSSIAN,
    HYBRID,
    MULTI_CATEGORICAL,
    SQUASHED_GAUSSIAN,
    ActionHead,
    ServingModel,
)

CONTINUOUS_HEADS = (GAUSSIAN, SQUASHED_GAUSSIAN, DETERMINISTIC, HYBRID)
DISCRETE_HEADS = (CATEGORICAL, MULTI_CATEGORICAL, HYBRID)


def action_spec(head: ActionHead) -> ml.ActionSpec:
    """The ML-Agents action spec of a serving head (see :func:`unsupported` for the heads that have none)."""
    if head.kind == CATEGORICAL:
        return ml.ActionSpec(0, (int(head.size),))
    if head.kind == MULTI_CATEGORICAL:
        return ml.ActionSpec(0, tuple(int(n) for n in head.parts or ()))
    if head.kind == HYBRID:
        return ml.ActionSpec(int(head.size), tuple(int(n) for n in head.parts or ()))
    return ml.ActionSpec(int(head.size), ())


def unsupported(serving: ServingModel) -> str | None:
    """Why ``serving`` has no ML-Agents model (None: it has one)."""
    head, unity = serving.head, serving.unity
    if unity is None:
        return "not a Unity game"
    if serving.stochastic:
        return f"the policy is random ({serving.stochastic}); ML-Agents' model must reproduce its deterministic action"
    if head.kind not in (*DISCRETE_HEADS, *CONTINUOUS_HEADS):
        return f"ML-Agents has no action space for a {head.kind} head"
    if head.kind in DISCRETE_HEADS and (head.start or any(head.starts or ())):
        return "ML-Agents' discrete actions start at 0"
    if head.kind in CONTINUOUS_HEADS and not (
        head.bounded and np.allclose(head.low or (), -1.0) and np.allclose(head.high or (), 1.0)
    ):
        return f"ML-Agents' continuous actions are in [-1, 1], the policy's in [{head.low}, {head.high}]"
    size = sum(int(np.prod(shape)) for shape in unity.observation_shapes)
    if size != serving.observation_dim or any(len(shape) not in (1, 3) for shape in unity.observation_shapes):
        return (
            f"the policy's {serving.observation_dim} observations are not the game's sensors "
            f"{list(unity.observation_shapes)} (vectors and cameras) flattened in order"
        )
    return None


def mlagents_module(serving: ServingModel) -> Any:
    """A ``torch.nn.Module``: ``(obs_0, ..., [action_masks])`` -> ML-Agents' outputs, in order."""
    import torch  # heavy: torch (~1.5 s)

    head, unity = serving.head, serving.unity
    assert unity is not None
    spec = action_spec(head)
    policy = serving.module
    shapes = [tuple(int(d) for d in shape) for shape in unity.observation_shapes]

    def constant(values: list[Any]) -> torch.nn.Parameter:
        return torch.nn.Parameter(torch.tensor(values, dtype=torch.float32), requires_grad=False)

    class MLAgentsPolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy
            values = ml.constant_values(spec)  # parameters: the exporter writes them as initializers
            self.version_number = constant(values[ml.VERSION])
            self.memory_size = constant(values[ml.MEMORY_SIZE])
            self.continuous_shape = constant(values.get(ml.CONTINUOUS_SHAPE, [0.0]))
            self.discrete_shape = constant(values.get(ml.DISCRETE_SHAPE, [[0.0]]))

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            flat = []
            for shape, x in zip(shapes, inputs):
                if len(shape) == 3:  # the camera arrives (C, H, W); the policy was trained on (H, W, C)
                    x = x.permute(0, 2, 3, 1)
                flat.append(x.reshape(x.shape[0], -1))
            out = self.policy.features(torch.cat(flat, dim=1) if len(flat) > 1 else flat[0])
            outputs: list[torch.Tensor] = [self.version_number, self.memory_size]
            if spec.continuous:
                outputs += self._continuous(out[:, : spec.continuous], out[:, spec.continuous : 2 * spec.continuous])
            if spec.branches:  # a hybrid's logits follow its Gaussian's mean and log std
                logits = 2 * spec.continuous
                outputs += self._discrete(out[:, logits : logits + sum(spec.branches)], inputs[len(shapes)])
            return tuple(outputs)

        def _continuous(self, mean: torch.Tensor, log_std: torch.Tensor) -> list[torch.Tensor]:
            if head.kind == DETERMINISTIC:
                sample = mean
            else:
                sample = mean + torch.randn_like(mean) * torch.exp(log_std)
            if head.kind == SQUASHED_GAUSSIAN:
                return [torch.tanh(sample), self.continuous_shape, torch.tanh(mean)]
            limit = ml.MAX_ABS_ACTION
            return [
                torch.clamp(sample * limit, -limit, limit) / limit,
                self.continuous_shape,
                torch.clamp(mean * limit, -limit, limit) / limit,
            ]

        def _discrete(self, logits: torch.Tensor, masks: torch.Tensor) -> list[torch.Tensor]:
            samples, greedy, start = [], [], 0
            for size in spec.branches:
                mask = masks[:, start : start + size]
                masked = logits[:, start : start + size] * mask - ml.MASK_PENALTY * (1.0 - mask)
                start += size
                samples.append(torch.multinomial(torch.softmax(masked, dim=1), 1))
                greedy.append(torch.argmax(masked, dim=1, keepdim=True))
            return [
                torch.cat(samples, dim=1).to(torch.int64),
                self.discrete_shape,
                torch.cat(greedy, dim=1).to(torch.int64),
            ]

    return MLAgentsPolicy().eval()


def export_mlagents(serving: ServingModel, path: Path) -> None:
    """Write ``serving``'s ML-Agents model to ``path`` (opset :data:`runtime.export.mlagents_names.OPSET`)."""
    import torch  # heavy: torch (~1.5 s)

    assert serving.unity is not None
    spec = action_spec(serving.head)
    shapes = [ml.onnx_shape(tuple(shape)) for shape in serving.unity.observation_shapes]
    example = [torch.zeros((2, *shape)) for shape in shapes]
    if spec.branches:
        example.append(torch.ones((2, sum(spec.branches))))
    inputs = ml.input_names(len(shapes), spec)
    outputs = ml.output_names(spec)
    batch = {0: "batch"}
    dynamic = {name: batch for name in inputs + [n for n in outputs if n not in ml.CONSTANT_OUTPUTS]}
    # torch's TorchScript-based exporter, as ML-Agents' own; no constant folding, so that the metadata outputs stay
    # Identity nodes of initializers, as ML-Agents writes them.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            mlagents_module(serving),
            tuple(example),
            str(path),
            dynamo=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=ml.OPSET,
            do_constant_folding=False,
        )


class MLAgentsOnnx(Exporter):
    """ML-Agents' ONNX convention, one file per behavior, each checked by ML-Agents' loader rules and against the
    torch policy (:mod:`runtime.export.mlagents_check`). Only for Unity jobs."""

    name = "mlagents"
    files = (ml.FOLDER + "/",)
    title = "ML-Agents ONNX for Unity"

    def skip_reason(self, model: ExportInput) -> str | None:
        return unsupported(model.serving)

    def skipped(self, reason: str) -> dict[str, Any]:
        return {self.name: None, **({"mlagents_skipped": reason} if reason != "not a Unity game" else {})}

    def export(self, model: ExportInput, dest: Path) -> None:
        assert model.serving.unity is not None
        folder = dest / ml.FOLDER
        shutil.rmtree(folder, ignore_errors=True)  # a rerun's files for behaviors the model no longer has go too
        folder.mkdir(parents=True)
        first: Path | None = None
        for behavior in model.serving.unity.names:
            path = folder / ml.file_name(behavior)
            if first is None:
                export_mlagents(model.serving, path)
                first = path
            elif path != first:
                path.write_bytes(first.read_bytes())  # behaviors sharing one policy: the same model

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        paths = behavior_files(model.serving)
        worst = _check_against(
            model.serving,
            [dest / ml.FOLDER / name for name in paths],
            model.observations,
            model.reference[0],
            model.tolerance,
        )
        return {
            self.name: [f"{ml.FOLDER}/{name}" for name in paths],
            "mlagents_opset": ml.OPSET,
            "max_abs_error": {self.name: worst},
        }


def behavior_files(serving: ServingModel) -> list[str]:
    """The file names of ``serving``'s behaviors (one file each; behaviors may share a name)."""
    assert serving.unity is not None
    return sorted({ml.file_name(name) for name in serving.unity.names})


def check_files(serving: ServingModel, paths: list[Path]) -> float:
    """ML-Agents' loader rules on each of ``paths`` (``serving``'s models), their deterministic actions against the
    torch policy's; the largest deterministic error."""
    observations = check_observations(serving.observation_dim)
    outputs = torch_outputs(serving.module, observations)
    return _check_against(serving, paths, observations, outputs[0], export_tolerance(serving, observations, outputs))


def _check_against(
    serving: ServingModel, paths: list[Path], observations: np.ndarray, actions: np.ndarray, tolerance: float
) -> float:
    """:func:`check_files` with the torch policy's ``actions`` on ``observations`` and the tolerance already made
    (the export pipeline's, when the files were just written)."""
    assert serving.unity is not None
    return max(
        (
            check_mlagents_model(
                path, serving.unity.observation_shapes, action_spec(serving.head), (observations, actions), tolerance
            )
            for path in paths
        ),
        default=0.0,
    )
