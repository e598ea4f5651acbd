"""ML-Agents' loader rules applied to an ``.onnx`` with onnx and ONNX Runtime alone: what a Unity ML-Agents package
(2.3 Barracuda, 3.0 Sentis, 4.0 Inference Engine) checks when a model is put on an Agent, and what it then relies on
when it runs it (:mod:`runtime.export.mlagents_names` has the convention).

- the graph is valid ONNX, its opset one Sentis documents (7 to 15), its operators ones Barracuda imports;
- inputs: exactly ``obs_0..obs_{n-1}`` and, with discrete actions, ``action_masks``: any other name is refused;
  float32, dimension 0 dynamic;
- outputs: the convention's names in its order, float32 but the discrete actions (int64); the metadata outputs
  constants (initializers, or ``Identity``/``Constant`` of them: never computed from an input) with ML-Agents'
  values; the action outputs' dimension 0 dynamic (named ``batch`` for the sampled ones);
- it runs on all-zero inputs, an all-zero mask included (the 4.x loader does so to read the metadata), and on
  batches of 1 and 7;
- a mask allowing one action of a branch forces that action, sampled and deterministic;
- continuous actions stay in [-1, 1]; with a reference, the deterministic outputs match the policy within 1e-5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from runtime.export import mlagents_names as ml
from runtime.export.checks import TOLERANCE, ExportMismatch, assert_close

FLOAT, INT64 = 1, 7
"""ONNX's element types (``TensorProto.FLOAT``, ``TensorProto.INT64``)."""


class NotAnMLAgentsModel(ExportMismatch):
    """The file breaks a rule a Unity ML-Agents package loads models by."""


def _fail(path: Path, why: str) -> NotAnMLAgentsModel:
    return NotAnMLAgentsModel(f"{path.name} is not a model ML-Agents loads: {why}")


def _dims(value: Any) -> list[Any]:
    """A graph input's or output's dimensions: ints, a named dimension's name, or None."""
    return [d.dim_param or (d.dim_value if d.HasField("dim_value") else None) for d in value.type.tensor_type.shape.dim]


def _constant_sources(graph: Any) -> dict[str, np.ndarray]:
    """Every tensor name whose value is fixed in the graph (initializers, Constant nodes and Identity of them)."""
    from onnx import numpy_helper  # heavy: ONNX (export only)

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if node.output[0] in values:
                continue
            if node.op_type == "Constant":
                attribute = next((a for a in node.attribute if a.name == "value"), None)
                if attribute is not None:
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
                    changed = True
            elif node.op_type == "Identity" and node.input[0] in values:
                values[node.output[0]] = values[node.input[0]]
                changed = True
    return values


def read_signature(path: Path) -> dict[str, Any]:
    """The file's inputs and outputs (name, element type, dimensions; None for a dynamic one), its opset and its
    constant outputs' values: what :func:`check_mlagents_model` and the comparison with ML-Agents' own export read."""
    import onnx  # heavy: ONNX (export only)

    model = onnx.load(str(path))
    constants = _constant_sources(model.graph)
    return {
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "inputs": [
            {
                "name": i.name,
                "dtype": i.type.tensor_type.elem_type,
                "shape": [d if isinstance(d, int) else None for d in _dims(i)],
            }
            for i in model.graph.input
        ],
        "outputs": [
            {
                "name": o.name,
                "dtype": o.type.tensor_type.elem_type,
                "shape": [d if isinstance(d, int) else None for d in _dims(o)],
            }
            for o in model.graph.output
        ],
        "constants": {o.name: constants[o.name].tolist() for o in model.graph.output if o.name in constants},
        "batch_names": {o.name: _dims(o)[0] for o in model.graph.output if _dims(o)},
    }


def _structure(path: Path, shapes: Sequence[tuple[int, ...]], spec: ml.ActionSpec) -> None:
    import onnx  # heavy: ONNX (export only)

    try:
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, OSError) as exc:
        raise _fail(path, f"not valid ONNX ({exc})") from exc
    foreign = sorted({node.op_type for node in onnx.load(str(path)).graph.node} - ml.LOADABLE_OPS)
    if foreign:
        raise _fail(path, f"it uses operators {foreign}, which Barracuda (ML-Agents 2.x) cannot import")
    signature = read_signature(path)
    if not ml.MIN_OPSET <= (signature["opset"] or 0) <= ml.MAX_OPSET:
        raise _fail(path, f"opset {signature['opset']} (the Unity packages load {ml.MIN_OPSET} to {ml.MAX_OPSET})")
    names = [i["name"] for i in signature["inputs"]]
    expected = ml.input_names(len(shapes), spec)
    if names != expected:
        missing = [n for n in expected if n not in names]
        extra = [n for n in names if n not in expected]
        raise _fail(
            path,
            f"inputs {names}, expected {expected}"
            + (f" (missing {missing})" if missing else "")
            + (f" (refused: {extra})" if extra else ""),
        )
    wanted = [ml.onnx_shape(tuple(s)) for s in shapes] + ([(sum(spec.branches),)] if spec.branches else [])
    for value, shape in zip(signature["inputs"], wanted):
        if value["dtype"] != FLOAT or value["shape"][1:] != list(shape) or value["shape"][:1] != [None]:
            raise _fail(
                path,
                f"input {value['name']} is {value['shape']} of type {value['dtype']}, expected float32 "
                f"[batch, {', '.join(map(str, shape))}] with a dynamic batch",
            )
    outputs = [o["name"] for o in signature["outputs"]]
    if outputs != ml.output_names(spec):
        raise _fail(path, f"outputs {outputs}, expected {ml.output_names(spec)} in that order")
    for value in signature["outputs"]:
        dtype = INT64 if value["name"] in ml.INT_OUTPUTS else FLOAT
        if value["dtype"] != dtype:
            raise _fail(path, f"output {value['name']} has element type {value['dtype']}, expected {dtype}")
        batch = signature["batch_names"].get(value["name"])
        # ML-Agents names the sampled actions' dimension 0 "batch" and leaves the deterministic ones' to the exporter.
        named = value["name"] in (ml.CONTINUOUS, ml.DISCRETE)
        if value["name"] not in ml.CONSTANT_OUTPUTS and (batch != "batch" if named else not isinstance(batch, str)):
            raise _fail(path, f"output {value['name']}'s dimension 0 is not the dynamic 'batch'")
    for name, values in ml.constant_values(spec).items():
        if name not in signature["constants"]:
            raise _fail(path, f"{name} is computed in the graph; ML-Agents reads it as a constant")
        if not np.array_equal(np.asarray(signature["constants"][name], np.float64), np.asarray(values, np.float64)):
            raise _fail(path, f"{name} is {signature['constants'][name]}, expected {values}")


def sensor_inputs(observations: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Flat observations (rlrt's policy input) as the model's ``obs_i`` (cameras channel-first)."""
    inputs, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        part = observations[:, start : start + size].reshape((-1, *shape))
        inputs.append(np.ascontiguousarray(part.transpose(0, 3, 1, 2) if len(shape) == 3 else part))
        start += size
    return inputs


def check_mlagents_model(
    path: Path,
    shapes: Sequence[tuple[int, ...]],
    spec: ml.ActionSpec,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    tolerance: float = TOLERANCE,
) -> float:
    """Raise :class:`NotAnMLAgentsModel` unless ``path`` follows ML-Agents' loader rules for a behavior with
    observation ``shapes`` (gymnasium's, a camera (H, W, C)) and actions ``spec``; with ``reference`` (flat
    observations and the policy's deterministic actions on them) its deterministic outputs must match within
    ``tolerance`` (1e-5; :func:`runtime.export.checks.tolerance_for` a camera's thousands of inputs).
    Returns the largest deterministic error (0 without a reference)."""
    import onnxruntime as ort  # heavy: ONNX Runtime (serving only)

    _structure(path, shapes, spec)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = ml.output_names(spec)
    masks = sum(spec.branches)

    def run(observations: list[np.ndarray], mask: np.ndarray | None) -> dict[str, np.ndarray]:
        feed = {ml.observation_name(i): o.astype(np.float32) for i, o in enumerate(observations)}
        if spec.branches:
            feed[ml.MASKS] = np.ones((len(observations[0]), masks), np.float32) if mask is None else mask
        try:
            return dict(zip(names, session.run(None, feed)))
        except Exception as exc:  # ONNX Runtime's own errors say what failed
            raise _fail(path, f"it fails to run ({type(exc).__name__}: {exc})") from exc

    onnx_shapes = [ml.onnx_shape(tuple(s)) for s in shapes]
    zeros = run([np.zeros((1, *s), np.float32) for s in onnx_shapes], np.zeros((1, masks), np.float32))
    if not all(np.all(np.isfinite(v)) for v in zeros.values()):
        raise _fail(path, "its outputs on all-zero inputs (what ML-Agents' loader runs first) are not finite")
    rng = np.random.default_rng(0)
    for batch in (1, 7):
        got = run([rng.standard_normal((batch, *s)).astype(np.float32) * 3 for s in onnx_shapes], None)
        for name in names:
            if name not in ml.CONSTANT_OUTPUTS and got[name].shape[0] != batch:
                raise _fail(path, f"{name} has {got[name].shape[0]} rows for a batch of {batch}")
        for name in (ml.CONTINUOUS, ml.DETERMINISTIC_CONTINUOUS):
            if name in got and not np.all(np.abs(got[name]) <= 1.0):
                raise _fail(path, f"{name} leaves [-1, 1] ({float(np.max(np.abs(got[name]))):.3g})")
    _check_masks(path, run, [rng.standard_normal((16, *s)).astype(np.float32) * 3 for s in onnx_shapes], spec)
    if reference is None:
        return 0.0
    observations, expected = reference
    got = run(sensor_inputs(observations, shapes), None)
    actions = np.asarray(expected).reshape(len(observations), -1)  # a hybrid's row: continuous, then discrete
    error = 0.0
    if spec.continuous:
        error = assert_close(
            f"{path.name} deterministic_continuous_actions",
            [got[ml.DETERMINISTIC_CONTINUOUS]],
            [actions[:, : spec.continuous]],
            tolerance,
        )
    if spec.branches and not np.array_equal(got[ml.DETERMINISTIC_DISCRETE], actions[:, spec.continuous :]):
        raise _fail(path, "deterministic_discrete_actions differ from the policy's greedy actions")
    return error


def _check_masks(path: Path, run: Any, observations: list[np.ndarray], spec: ml.ActionSpec) -> None:
    """Each action of each branch, alone allowed in its branch, is the action taken."""
    rows, start = len(observations[0]), 0
    for branch, size in enumerate(spec.branches):
        for action in range(size):
            mask = np.ones((rows, sum(spec.branches)), np.float32)
            mask[:, start : start + size] = 0.0
            mask[:, start + action] = 1.0
            got = run(observations, mask)
            for name in (ml.DISCRETE, ml.DETERMINISTIC_DISCRETE):
                if not np.all(got[name][:, branch] == action):
                    raise _fail(path, f"{name} ignores action_masks (branch {branch} allows only {action})")
        start += size
