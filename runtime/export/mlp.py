"""A plain-layer description of a torch network (dense layers and element-wise activations), for exporters in other
frameworks (TensorFlow's own environment) and the ``policy_spec.json`` description."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


_ACTIVATION_OF = {
    "Tanh": "tanh",
    "ReLU": "relu",
    "Sigmoid": "sigmoid",
    "ELU": "elu",
    "SiLU": "silu",
    "Identity": "linear",
}


class NotAnMLP(Exception):
    """The network is not a chain of linear layers and element-wise activations."""


def mlp_description(
    body: Any, observation_dim: int, used_columns: int | None = None
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Describe ``body`` as ``[{"type": "dense", "weight": name, "bias": name}, {"type": "activation", ...}, ...]``.

    The layers are found by running ``body`` once and following its output back to its input through the leaf
    modules that ran, so branches that do not feed the output (e.g. a value function) are left out. With
    ``used_columns``, only the output's first columns must be reproduced (a Gaussian head's mean, where the
    network post-processes the log std). Raises :class:`NotAnMLP` if anything other than ``Linear`` layers and
    element-wise activations produce the (used) output.
    """
    import torch  # heavy: torch (~1.5 s)

    records: dict[int, tuple[Any, Any, Any]] = {}
    keep: list[Any] = []

    def hook(module: Any, inputs: tuple[Any, ...], output: Any) -> None:
        if isinstance(output, torch.Tensor) and len(inputs) == 1 and isinstance(inputs[0], torch.Tensor):
            records[id(output)] = (module, inputs[0], output)
            keep.extend([inputs[0], output])

    handles = [m.register_forward_hook(hook) for m in body.modules() if not list(m.children())]
    try:
        x = torch.randn(3, observation_dim)
        with torch.no_grad():
            out = body(x)
    finally:
        for handle in handles:
            handle.remove()
    cols = out.shape[-1] if used_columns is None else used_columns
    target = out[:, :cols]
    current = out
    if id(out) not in records:
        # The last leaf output whose first columns are the used output (e.g. before a log-std clamp and concat).
        for _module, _, output in reversed(list(records.values())):
            if (
                output.shape[:-1] == out.shape[:-1]
                and output.shape[-1] >= cols
                and torch.equal(output[:, :cols], target)
            ):
                current = output
                break
    chain = []
    while current is not x:
        record = records.get(id(current))
        if record is None:
            raise NotAnMLP("the output is computed by something other than Linear layers and activations")
        chain.append(record[0])
        current = record[1]
    chain.reverse()
    layers: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}
    for module in chain:
        name = type(module).__name__
        if isinstance(module, torch.nn.Linear):
            index = len(weights) // 2
            weights[f"w{index}"] = module.weight.detach().cpu().numpy().T.astype(np.float32)
            weights[f"b{index}"] = (
                module.bias.detach().cpu().numpy().astype(np.float32)
                if module.bias is not None
                else np.zeros(module.out_features, np.float32)
            )
            layers.append({"type": "dense", "weight": f"w{index}", "bias": f"b{index}"})
        elif name in _ACTIVATION_OF:
            layers.append({"type": "activation", "activation": _ACTIVATION_OF[name]})
        else:
            raise NotAnMLP(f"layer {name} has no plain-layer equivalent")
    dense = [layer for layer in layers if layer["type"] == "dense"]
    if dense:  # activations are element-wise, so the last dense layer's unused columns can go
        last = dense[-1]
        weights[last["weight"]] = np.ascontiguousarray(weights[last["weight"]][:, :cols])
        weights[last["bias"]] = np.ascontiguousarray(weights[last["bias"]][:cols])
    reference = target.detach().cpu().numpy()
    mine = run_mlp(layers, weights, x.numpy())
    if mine.shape != reference.shape:
        raise NotAnMLP("the plain-layer description does not produce the network's output shape")
    if not np.allclose(mine, reference, atol=1e-5, rtol=1e-5):
        raise NotAnMLP("the plain-layer description does not reproduce the network's output")
    return layers, weights


def run_mlp(layers: Sequence[dict[str, Any]], weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Evaluate a :func:`mlp_description` in numpy (float32)."""
    h = np.asarray(x, dtype=np.float32)
    for layer in layers:
        if layer["type"] == "dense":
            h = h @ weights[layer["weight"]] + weights[layer["bias"]]
        else:
            h = _activate(layer["activation"], h)
    return h


def _activate(name: str, h: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.asarray(np.tanh(h))
    if name == "relu":
        return np.asarray(np.maximum(h, 0))
    if name == "sigmoid":
        return np.asarray(1 / (1 + np.exp(-h)))
    if name == "elu":
        return np.asarray(np.where(h > 0, h, np.expm1(h)))
    if name == "silu":
        return np.asarray(h / (1 + np.exp(-h)))
    return h


def named_mlp(body: Any, observation_dim: int, prefix: str) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """:func:`mlp_description` of ``body`` with its weights named ``<prefix>w0``, ``<prefix>b0``, ... (several MLPs
    share one weights file)."""
    layers, weights = mlp_description(body, observation_dim)
    renamed = []
    for layer in layers:
        if layer["type"] == "dense":
            layer = {**layer, "weight": prefix + layer["weight"], "bias": prefix + layer["bias"]}
        renamed.append(layer)
    return renamed, {prefix + name: value for name, value in weights.items()}
