"""The serving policy of a d3rlpy model: one torch module, exported as TorchScript and ONNX.

For discrete actions the module maps a batch of observations to ``(actions, action_probabilities, q_values)``:
the greedy action of the learned policy (for BCQ: the best action its imitation filter allows, exactly as d3rlpy's
``predict``) and the probabilities of the policy that off-policy evaluation scores, ``softmax(Q / temperature)`` over
the allowed actions. Those probabilities are what Batch Transform returns (``predictions[0]``), so its output can
drive the next data collection. For continuous actions the module returns ``actions`` (d3rlpy's own policy graph).
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np

TORCHSCRIPT_FILE = "policy.pt"
ONNX_FILE = "policy.onnx"
ONNX_OPSET = 17


def _torch() -> Any:
    import torch

    return torch


def discrete_policy_module(algo: Any, temperature: float) -> Any:
    """A ``torch.nn.Module``: observations (B, k) float32 -> (actions int64 (B,), probabilities (B, n), q (B, n))."""
    torch = _torch()
    from d3rlpy.algos import DiscreteBCQ

    impl = algo.impl
    scaler = algo.observation_scaler
    forwarder = impl._q_func_forwarder  # noqa: SLF001 - d3rlpy exposes no public "all Q values" call
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

    del forwarder
    module = DiscretePolicy()
    module.eval()
    return module


def continuous_policy_module(algo: Any) -> Any:
    """A ``torch.nn.Module``: observations (B, k) -> actions (B, m), the computation of d3rlpy's ``predict`` (for BCQ
    it samples candidate actions from its generative model, so the output is random unless torch is seeded)."""
    torch = _torch()
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
            return action

    module = ContinuousPolicy()
    module.eval()
    return module


def policy_tables(module: Any, observations: np.ndarray, batch: int = 8192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a discrete policy module over ``observations``: (actions, probabilities, q values) as numpy arrays."""
    torch = _torch()
    actions, probs, qs = [], [], []
    with torch.no_grad():
        for start in range(0, len(observations), batch):
            a, p, q = module(torch.as_tensor(np.asarray(observations[start:start + batch], dtype=np.float32)))
            actions.append(a.numpy())
            probs.append(p.numpy().astype(np.float64))
            qs.append(q.numpy().astype(np.float64))
    return np.concatenate(actions), np.concatenate(probs), np.concatenate(qs)


def export_policy(algo: Any, directory: Path, discrete: bool, observation_size: int, temperature: float) -> dict[str, Any]:
    """Write ``policy.pt`` (TorchScript) and ``policy.onnx``; returns their description for metadata.json."""
    torch = _torch()
    directory.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, observation_size, dtype=torch.float32)
    if discrete:
        module = discrete_policy_module(algo, temperature)
        outputs = ["actions", "action_probabilities", "q_values"]
        with torch.no_grad():
            traced = torch.jit.trace(module, example, check_trace=False)
        traced.save(str(directory / TORCHSCRIPT_FILE))
        _onnx_export(module, example, directory / ONNX_FILE, outputs)
    else:
        outputs = ["actions"]
        module = continuous_policy_module(algo)
        with torch.no_grad():
            traced = torch.jit.trace(module, example, check_trace=False)
        traced.save(str(directory / TORCHSCRIPT_FILE))
        _onnx_export(module, example, directory / ONNX_FILE, outputs)
    return {
        "torchscript": TORCHSCRIPT_FILE,
        "onnx": ONNX_FILE,
        "input": "observations",
        "outputs": outputs,
        "temperature": temperature if discrete else None,
    }


@contextlib.contextmanager
def _without_onnx_package() -> Iterator[None]:
    """Let torch's TorchScript-based ONNX exporter run when the ``onnx`` package cannot be imported.

    The exporter builds the ONNX protobuf itself (in C++); it imports ``onnx`` only in ``_add_onnxscript_fn``, to
    splice in the bodies of custom onnxscript functions, and returns the bytes unchanged when the graph has none.
    Our policies use standard ONNX operators only, so when ``import onnx`` fails (onnx 1.23 needs a newer protobuf
    than the 3.20.3 this project is pinned to) that step is replaced by the identity it would have been. The result
    is checked against the torch module with onnxruntime in the tests.
    """
    try:
        import onnx  # noqa: F401

        yield
        return
    except ImportError:
        pass
    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils

    original = onnx_proto_utils._add_onnxscript_fn  # noqa: SLF001
    onnx_proto_utils._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes  # noqa: SLF001
    try:
        yield
    finally:
        onnx_proto_utils._add_onnxscript_fn = original  # noqa: SLF001


def _onnx_export(module: Any, example: Any, path: Path, outputs: list[str]) -> None:
    """TorchScript-based ONNX export (``dynamo=False``: no ``onnxscript`` needed; see :func:`_without_onnx_package`)."""
    torch = _torch()
    with torch.no_grad(), _without_onnx_package():
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=["observations"],
            output_names=outputs,
            dynamic_axes={"observations": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def export_d3rlpy_serving(model_dir: Path, algo: Any, discrete: bool, observation_size: int, temperature: float,
                          stream: Any = None) -> dict[str, Any]:
    """Write the serving exports of a d3rlpy policy into ``model_dir`` and record them in ``metadata.json``."""
    import sys
    import time

    from runtime.export.pipeline import update_metadata

    out = stream or sys.stdout
    started = time.monotonic()
    section = export_policy(algo, model_dir, discrete, observation_size, temperature)
    update_metadata(model_dir, section)
    print(f"rlrt: serving exports ({time.monotonic() - started:.1f} s): {section['torchscript']}, {section['onnx']}",
          file=out, flush=True)
    return section
