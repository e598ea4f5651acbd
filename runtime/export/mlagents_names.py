"""ML-Agents' ONNX convention: the tensor names, their order and the constants a Unity ML-Agents package reads from a
policy model (Barracuda in package 2.3, Sentis in 3.0, Inference Engine in 4.0; ML-Agents' trainer writes the same
since model version 3).

Inputs: ``obs_0``, ``obs_1``, ... float32 ``[batch, *shape]`` in the Agent's sensor order, a camera channel-first
``[batch, C, H, W]``; ``action_masks`` float32 ``[batch, sum of the branch sizes]`` (1 allows an action) only with
discrete actions; ``recurrent_in`` only with memory. The loader refuses any other input name.

Outputs, in this order: ``version_number`` (constant 3), ``memory_size`` (constant 0 without memory); with
continuous actions ``continuous_actions``, ``continuous_action_output_shape`` (constant ``[size]``),
``deterministic_continuous_actions``; with discrete actions ``discrete_actions`` (int64 ``[batch, branches]``),
``discrete_action_output_shape`` (constant ``[[size of each branch]]``), ``deterministic_discrete_actions``. The
constants are float32 initializers; the action outputs have a dynamic dimension 0 named ``batch``.
"""

from __future__ import annotations

from dataclasses import dataclass

OPSET = 9
"""The opset ML-Agents' trainer exports with (``SerializationSettings.onnx_opset``); every package version loads it."""
MIN_OPSET, MAX_OPSET = 7, 15
"""The opsets Sentis documents it imports (others "might import, with unexpected results"); Barracuda's advice is 9."""
LOADABLE_OPS = frozenset(
    "Add And ArgMax ArgMin AveragePool BatchNormalization Cast Concat Constant ConstantOfShape Conv ConvTranspose "
    "DepthToSpace Div Dropout Equal Expand Flatten Gather Gemm GlobalAveragePool GlobalMaxPool Greater Identity "
    "ImageScaler InstanceNormalization Less LessOrEqual LRN MatMul Max MaxPool Mean Min Mul Multinomial "
    "NonMaxSuppression NonZero Not OneHot Or Pad Pow RandomNormal RandomNormalLike RandomUniform RandomUniformLike "
    "ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum Reshape Resize Shape Slice SpaceToDepth Split Squeeze Sub "
    "Sum Tile TopK Transpose Unsqueeze Upsample Where Xor "
    "Abs Acos Acosh Asin Asinh Atan Atanh Ceil Clip Cos Cosh Elu Exp Floor LeakyRelu Log LogSoftmax Neg PRelu "
    "Reciprocal Relu Round Selu Sigmoid Sin Sinh Softmax Sqrt Tan Tanh".split()
)
"""The ONNX operators Barracuda 2.0 (ML-Agents 2.x) imports, the narrowest of the three runtimes (Sentis and
Inference Engine import them all)."""
MODEL_VERSION = 3
"""``version_number``: ML-Agents' model API 2.0 (``MODEL_EXPORT_VERSION`` of its actor)."""
MAX_ABS_ACTION = 3.0
"""ML-Agents' actor clips a Gaussian's output to [-3, 3] and divides it by 3 (unless it squashes with tanh)."""
MASK_PENALTY = 1e8
"""A masked logit: ``logits * mask - 1e8 * (1 - mask)`` (no -inf: runtimes without infinities load it)."""

FOLDER = "mlagents"
"""Where the files go in a model folder: ``mlagents/<Behavior>.onnx``."""

MASKS = "action_masks"
MEMORY_IN = "recurrent_in"
VERSION = "version_number"
MEMORY_SIZE = "memory_size"
CONTINUOUS = "continuous_actions"
CONTINUOUS_SHAPE = "continuous_action_output_shape"
DETERMINISTIC_CONTINUOUS = "deterministic_continuous_actions"
DISCRETE = "discrete_actions"
DISCRETE_SHAPE = "discrete_action_output_shape"
DETERMINISTIC_DISCRETE = "deterministic_discrete_actions"
CONSTANT_OUTPUTS = (VERSION, MEMORY_SIZE, CONTINUOUS_SHAPE, DISCRETE_SHAPE)
INT_OUTPUTS = (DISCRETE, DETERMINISTIC_DISCRETE)


@dataclass(frozen=True)
class UnityBehavior:
    """What ML-Agents' ONNX convention needs beyond the policy: the behaviors' names (a file each) and the observation
    shapes in the Agent's sensor order, as the gymnasium space has them (a camera (H, W, C))."""

    names: tuple[str, ...]
    observation_shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ActionSpec:
    """A behavior's actions as ML-Agents counts them."""

    continuous: int
    branches: tuple[int, ...]


def observation_name(index: int) -> str:
    return f"obs_{index}"


def onnx_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A sensor's shape as the model takes it: a camera (H, W, C) channel-first (C, H, W)."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


def input_names(observations: int, spec: ActionSpec) -> list[str]:
    return [observation_name(i) for i in range(observations)] + ([MASKS] if spec.branches else [])


def output_names(spec: ActionSpec) -> list[str]:
    names = [VERSION, MEMORY_SIZE]
    if spec.continuous:
        names += [CONTINUOUS, CONTINUOUS_SHAPE, DETERMINISTIC_CONTINUOUS]
    if spec.branches:
        names += [DISCRETE, DISCRETE_SHAPE, DETERMINISTIC_DISCRETE]
    return names


def constant_values(spec: ActionSpec) -> dict[str, list[object]]:
    """The metadata outputs' values (float32 in the model)."""
    values: dict[str, list[object]] = {VERSION: [float(MODEL_VERSION)], MEMORY_SIZE: [0.0]}
    if spec.continuous:
        values[CONTINUOUS_SHAPE] = [float(spec.continuous)]
    if spec.branches:
        values[DISCRETE_SHAPE] = [[float(n) for n in spec.branches]]
    return values


def file_name(behavior: str) -> str:
    """``<Behavior>.onnx``: the Behavior Name without the ``?team=N`` ML-Agents appends for the team id."""
    name = behavior.split("?", 1)[0].strip() or "Behavior"
    return "".join(c if c.isalnum() or c in "._-= " else "_" for c in name).lstrip(".") + ".onnx"
