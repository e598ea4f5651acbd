"""An RL Zoo section's network (``policy_kwargs``; SB3's default MlpPolicy where it names none) as RLlib's
``model_config``, and the Python expressions the Zoo's files write such settings in (``dict(net_arch=[64],
activation_fn=nn.ReLU)``), read without evaluating anything."""

from __future__ import annotations

import ast
import math
from typing import Any

from runtime.errors import UserError

SB3_NETWORKS = {"PPO": ([64, 64], "tanh"), "DQN": ([64, 64], "relu"), "SAC": ([256, 256], "relu")}
"""SB3's default MlpPolicy layers and activation per algorithm."""

ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "ELU": "elu", "SiLU": "swish", "Identity": "linear"}
"""torch.nn activation classes (``activation_fn=nn.ReLU``) and RLlib's names for them."""


def model_config(kwargs: Any, algorithm: str, where: str, notes: list[str]) -> dict[str, Any]:
    """``policy_kwargs`` (a Python ``dict(...)`` expression in the Zoo's files) as RLlib's model_config."""
    layers, activation = SB3_NETWORKS[algorithm]
    model: dict[str, Any] = {"fcnet_hiddens": list(layers), "fcnet_activation": activation}
    if algorithm == "PPO":
        model["vf_share_layers"] = False
    if kwargs is None:
        return model
    values = python_value(kwargs, where, "policy_kwargs") if isinstance(kwargs, str) else kwargs
    if not isinstance(values, dict):
        raise UserError(f"{where}: policy_kwargs must be dict(...), got {kwargs!r}.")
    for key, value in values.items():
        if key == "net_arch":
            model["fcnet_hiddens"] = _layers(value, where, notes)
        elif key == "activation_fn":
            name = str(value).rsplit(".", 1)[-1]
            if name not in ACTIVATIONS:
                raise UserError(
                    f"{where}: policy_kwargs activation_fn={value}: RLlib's networks take "
                    f"{', '.join(f'nn.{n}' for n in ACTIVATIONS)}."
                )
            model["fcnet_activation"] = ACTIVATIONS[name]
        elif key == "ortho_init":
            if value:  # SB3's default; RLlib's layers keep torch's initialisation, as ortho_init=False asks
                notes.append(
                    "policy_kwargs ortho_init=True not translated: RLlib initialises its layers as torch "
                    "does, not orthogonally"
                )
        elif key == "log_std_init" and algorithm != "DQN":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise UserError(f"{where}: policy_kwargs log_std_init must be a number, got {value!r}.")
            model["log_std_init"] = float(value)
        else:
            notes.append(f"policy_kwargs {key}={value!r} not translated: RLlib's default network has no such option")
    return model


def _layers(value: Any, where: str, notes: list[str]) -> list[int]:
    """net_arch's hidden sizes: ``[64, 64]``, ``dict(pi=[..], vf=[..])`` / ``qf`` or SB3 1.x's ``[dict(...)]``."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if isinstance(value, dict):
        heads = {k: v for k, v in value.items() if k in ("pi", "vf", "qf")}
        if "pi" not in heads:
            raise UserError(f"{where}: policy_kwargs net_arch={value!r} has no 'pi' layers.")
        others = [k for k, v in heads.items() if k != "pi" and v != heads["pi"]]
        if others:
            notes.append(
                f"net_arch {value!r}: RLlib gives the {' and '.join(others)} network the policy's layers {heads['pi']}"
            )
        value = heads["pi"]
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value):
        raise UserError(f"{where}: policy_kwargs net_arch must list positive layer sizes, got {value!r}.")
    return list(value)


def python_value(text: str, where: str, key: str) -> Any:
    """A Zoo setting written as Python (``dict(net_arch=[64], activation_fn=nn.ReLU)``): literals, ``dict(...)``
    calls and dotted names (as strings), nothing evaluated."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise UserError(f"{where}: {key}={text!r} is not a Python expression ({exc.msg}).") from None
    return _value(tree.body, where, key)


def _value(node: ast.expr, where: str, key: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(item, where, key) for item in node.elts]
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {_value(k, where, key): _value(v, where, key) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _value(node.operand, where, key)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        if all(kw.arg is not None for kw in node.keywords):
            return {kw.arg: _value(kw.value, where, key) for kw in node.keywords}
    if isinstance(node, ast.Attribute):
        parts = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name):
            return ".".join([current.id, *reversed(parts)])
    raise UserError(
        f"{where}: {key}: {ast.unparse(node)!r} is not a value rlrt reads (numbers, strings, lists, "
        "dict(...) and names such as nn.ReLU)."
    )
