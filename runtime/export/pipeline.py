"""Serving exports written into ``/opt/ml/model`` at the end of training.

| file | for |
| --- | --- |
| ``policy.pt`` | TorchScript: ``observations [batch, obs_dim] float32 -> (actions[, action_probabilities[, q_values]])`` |
| ``policy.onnx`` | ONNX (input ``observations``; outputs ``actions`` and, for discrete actions, ``action_probabilities``, and for Q-ensembles ``q_values``); what ``rlrt serve`` and ``rlrt transform`` run through ONNX Runtime |
| ``policy_spec.json`` + ``policy_weights.npz`` | the framework-neutral handoff (plain layers, observation filter, action head) |
| ``1/`` | TensorFlow SavedModel for TensorFlow Serving (built in TensorFlow's own environment, see ``RLRT_TF_PYTHON``) |
| ``code/inference.py`` | handlers for SageMaker's PyTorch serving container (and input/output handlers for its TensorFlow Serving container) |

Every backend (RLlib online, d3rlpy offline) hands its policy over as a :class:`runtime.export.policy.ServingModel`
(a torch module, the framework's own inference, a plain-layer description). Every export is checked numerically
against the policy it came from (the torch module against the framework, ONNX and TorchScript against the torch
module, the SavedModel against ONNX Runtime) before it is recorded in ``metadata.json`` under ``serving``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from runtime.contracts import Plugins
from runtime.errors import UserError
from runtime.export.checks import (
    CHECK_SEED,
    TOLERANCE,
    ExportMismatch,
    check_observations,
    compare_outputs,
    tolerance_for,
    torch_outputs,
)
from runtime.export.model_dir import is_export_output
from runtime.export.policy import OBSERVATIONS, ActionHead, NotAnMLP, ServingModel, ServingModels, output_names
from runtime.names import (
    CODE_DIR,
    METADATA_JSON,
    ONNX_FILE,
    POLICIES_DIR,
    SAVEDMODEL_DIR,
    TF_PYTHON_ENV,
    TORCHSCRIPT_FILE,
)
from runtime.names import POLICY_SPEC_FILE as SPEC_FILE
from runtime.names import POLICY_WEIGHTS_FILE as WEIGHTS_FILE
from runtime.serving.model_store import verify_model_folder
from runtime.train.manifest import write_manifest

log = logging.getLogger(__name__)

ONNX_OPSET = 17
TF_EXPORT_TIMEOUT_S = 300


def export_torchscript(policy: Any, observation_dim: int, path: Path) -> None:
    """Trace ``policy`` to TorchScript at ``path``."""
    import torch  # heavy: torch (~1.5 s)

    example = torch.as_tensor(check_observations(observation_dim, count=2))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings for shape asserts in the frameworks' code
        traced = torch.jit.trace(policy, example, check_trace=False)
    traced.save(str(path))


def export_onnx(policy: Any, observation_dim: int, head: ActionHead, path: Path) -> None:
    """Export ``policy`` to ONNX at ``path`` with a dynamic batch dimension."""
    import torch  # heavy: torch (~1.5 s)

    names = output_names(head)
    example = torch.as_tensor(check_observations(observation_dim, count=2))
    with warnings.catch_warnings(), torch.no_grad(), _without_onnx_package():
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


@contextmanager
def _without_onnx_package() -> Iterator[None]:
    """Let torch's TorchScript-based ONNX exporter run when the ``onnx`` package cannot be imported.

    The exporter builds the ONNX protobuf itself (in C++); it imports ``onnx`` only in ``_add_onnxscript_fn``, to
    splice in custom onnxscript functions, and returns the bytes unchanged when the graph has none (ours use
    standard operators only). When ``import onnx`` fails (a protobuf pin older than onnx needs), that step is
    replaced by the identity it would have been; the result is checked with ONNX Runtime as always.
    """
    try:
        import onnx  # noqa: F401  # heavy: ONNX (exports only)

        yield
        return
    except ImportError:
        pass
    from torch.onnx._internal.torchscript_exporter import onnx_proto_utils  # heavy: torch (~1.5 s)

    original = onnx_proto_utils._add_onnxscript_fn  # noqa: SLF001
    onnx_proto_utils._add_onnxscript_fn = lambda model_bytes, custom_opsets: model_bytes  # noqa: SLF001
    try:
        yield
    finally:
        onnx_proto_utils._add_onnxscript_fn = original  # noqa: SLF001


def onnx_outputs(path: Path, observations: np.ndarray) -> list[np.ndarray]:
    """Run an ONNX policy through ONNX Runtime (one thread)."""
    import onnxruntime as ort  # heavy: ONNX Runtime (serving only)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {OBSERVATIONS: observations})


def find_tf_python() -> Path | None:
    """The TensorFlow environment's python from ``RLRT_TF_PYTHON``, or None (SavedModel export off)."""
    value = os.environ.get(TF_PYTHON_ENV, "").strip()
    if not value:
        return None
    path = Path(value)
    return path if path.exists() else None


def export_savedmodel(
    tf_python: Path, model_dir: Path, observations: np.ndarray, expected: list[np.ndarray], head: ActionHead
) -> dict[str, Any]:
    """Build ``model_dir/1`` with TensorFlow (a separate process) from the spec handoff; check it against ``expected``."""
    script = Path(__file__).with_name("tf_savedmodel.py")
    target = model_dir / SAVEDMODEL_DIR
    with tempfile.TemporaryDirectory(prefix="rlrt-tf-") as tmp:
        check_in = Path(tmp) / "check_in.npz"
        check_out = Path(tmp) / "check_out.npz"
        staging = Path(tmp) / "savedmodel"
        np.savez(check_in, observations=observations)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)
        started = time.monotonic()
        done = subprocess.run(
            [str(tf_python), str(script), str(model_dir / SPEC_FILE), str(model_dir / WEIGHTS_FILE), str(staging),
             str(check_in), str(check_out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=TF_EXPORT_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the TensorFlow exporter failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        with np.load(check_out) as data:
            got = [data[name] for name in sorted(data.files, key=lambda n: int(n.split("_")[1]))]
        worst = compare_outputs("SavedModel vs ONNX", head, got, expected)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(staging), str(target))
    return {"path": SAVEDMODEL_DIR + "/", "max_abs_error_vs_onnx": worst, "seconds": round(time.monotonic() - started, 1),
            "tensorflow": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""}


def write_inference_code(model_dir: Path) -> Path:
    """Copy the SageMaker serving handlers to ``model_dir/code/inference.py`` (with ``rlrt_codec.py`` beside it)."""
    code = model_dir / CODE_DIR
    code.mkdir(parents=True, exist_ok=True)
    target = code / "inference.py"
    serving = Path(__file__).resolve().parent.parent / "serving"
    shutil.copyfile(serving / "sagemaker_inference.py", target)
    shutil.copyfile(serving / "codec.py", code / "rlrt_codec.py")
    return target


def _check_against_framework(model: ServingModel, observations: np.ndarray, reference: list[np.ndarray]) -> float:
    """The torch module against the framework's own inference (``model.reference``); the largest error."""
    if model.reference is None:
        return 0.0
    import torch  # heavy: torch (~1.5 s)

    names = output_names(model.head)
    torch.manual_seed(CHECK_SEED)
    own = model.reference(observations)
    return compare_outputs(f"the serving module vs {', '.join(own)} of the framework", model.head,
                           [reference[names.index(name)] for name in own], list(own.values()), names=list(own))


def _check_stochastic_onnx(model: ServingModel, got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """A random policy's ONNX outputs: the shapes of the torch outputs, finite, and within the action bounds."""
    for index, (a, b) in enumerate(zip(got, expected)):
        if a.shape != b.shape or not np.all(np.isfinite(a)):
            raise ExportMismatch(f"ONNX: output {index} has shape {a.shape} (expected {b.shape}) or is not finite")
    head = model.head
    if head.bounded and not (np.all(got[0] >= np.asarray(head.low) - TOLERANCE)
                             and np.all(got[0] <= np.asarray(head.high) + TOLERANCE)):
        raise ExportMismatch("ONNX: actions outside the action bounds")


def export_serving(model_dir: Path, model: ServingModel) -> dict[str, Any]:
    """Write every serving export of ``model`` into ``model_dir`` and return the ``serving`` metadata section.

    TorchScript and ONNX must succeed (their failure raises). The SavedModel is built when ``RLRT_TF_PYTHON``
    names TensorFlow's environment; when it is unavailable or the network has no plain-layer description, the
    section says why (``tensorflow_skipped``).
    """
    import torch  # heavy: torch (~1.5 s)

    model_dir.mkdir(parents=True, exist_ok=True)
    policy, dim, head = model.module, model.observation_dim, model.head
    observations = check_observations(dim)
    torch.manual_seed(CHECK_SEED)
    reference = torch_outputs(policy, observations)
    framework_error = _check_against_framework(model, observations, reference)

    export_torchscript(policy, dim, model_dir / TORCHSCRIPT_FILE)
    with torch.no_grad():
        loaded = torch.jit.load(str(model_dir / TORCHSCRIPT_FILE))
        torch.manual_seed(CHECK_SEED)
        ts_error = compare_outputs("TorchScript", head, [o.numpy() for o in loaded(torch.as_tensor(observations))],
                                   reference, tolerance=tolerance_for(dim))

    export_onnx(policy, dim, head, model_dir / ONNX_FILE)
    onnx_ref = onnx_outputs(model_dir / ONNX_FILE, observations)
    if model.stochastic:
        _check_stochastic_onnx(model, onnx_ref, reference)
        onnx_error: float | None = None
    else:
        onnx_error = compare_outputs("ONNX", head, onnx_ref, reference, tolerance=tolerance_for(dim))

    section: dict[str, Any] = {
        "inputs": {OBSERVATIONS: {"shape": [None, dim], "dtype": "float32"}},
        "outputs": output_names(head),
        "head": head.to_json(),
        "observation_filter": f"{model.filter_name} (baked in: takes raw observations)" if model.obs_filter else None,
        "torchscript": TORCHSCRIPT_FILE,
        "onnx": ONNX_FILE,
        "onnx_opset": ONNX_OPSET,
        "max_abs_error": {"torchscript": ts_error, "onnx": onnx_error,
                          **({"framework": framework_error} if model.reference is not None else {})},
        **({"stochastic": model.stochastic} if model.stochastic else {}),
        **dict(model.extra),
    }
    try:
        if model.stochastic:
            raise NotAnMLP(model.stochastic)
        description, weights = model.describe()
    except NotAnMLP as exc:
        section["policy_spec"] = None
        section["tensorflow_savedmodel"] = None
        section["tensorflow_skipped"] = f"no plain-layer description of the policy: {exc}"
    else:
        (model_dir / SPEC_FILE).write_text(json.dumps(description.to_json(), indent=2))
        np.savez(model_dir / WEIGHTS_FILE, **weights)
        section["policy_spec"] = SPEC_FILE
        section["policy_weights"] = WEIGHTS_FILE
        section["tensorflow_savedmodel"] = None
        tf_python = find_tf_python()
        if tf_python is None:
            section["tensorflow_skipped"] = (
                f"{TF_PYTHON_ENV} does not name TensorFlow's environment (build it with scripts/install-tf.sh)"
            )
        else:
            try:
                section["tensorflow_savedmodel"] = export_savedmodel(tf_python, model_dir, observations, onnx_ref, head)
            except (RuntimeError, ExportMismatch, subprocess.TimeoutExpired, OSError) as exc:
                # Promised (TensorFlow's environment is here, the network has a plain-layer description): its failure
                # is the export's, like ONNX's (exit 0 promises every export the model can have).
                raise ExportMismatch(f"the TensorFlow SavedModel ({TF_PYTHON_ENV}={tf_python}) failed: {exc}") from exc
    section["code"] = str(write_inference_code(model_dir).relative_to(model_dir))
    return section


def _policy_folder(policy_id: str) -> str:
    """A folder name for a policy id (``3DBall_team=0`` stays as it is; other characters become ``_``)."""
    name = "".join(c if c.isalnum() or c in "._=-" else "_" for c in policy_id).lstrip(".")
    return name or "_"


def _under(folder: str, section: dict[str, Any]) -> dict[str, Any]:
    """A policy's ``serving`` section with its file names made relative to the model folder."""
    moved = dict(section)
    for key in ("torchscript", "onnx", "policy_spec", "policy_weights", "code"):
        if isinstance(moved.get(key), str):
            moved[key] = f"{folder}/{moved[key]}"
    if isinstance(moved.get("tensorflow_savedmodel"), dict):
        moved["tensorflow_savedmodel"] = {**moved["tensorflow_savedmodel"],
                                          "path": f"{folder}/{moved['tensorflow_savedmodel']['path']}"}
    return moved


def export_policies(model_dir: Path, models: Mapping[str, ServingModel]) -> dict[str, Any]:
    """A multi-agent model's exports: each policy's in ``policies/<policy id>/``, the same files as a single policy's;
    the ``serving`` section lists them under ``policies`` (``rlrt serve`` serves one, chosen by ``RLRT_POLICY``)."""
    if not models:
        raise ValueError("a multi-agent model with no policy to export")
    shutil.rmtree(model_dir / POLICIES_DIR, ignore_errors=True)
    policies: dict[str, Any] = {}
    for policy_id, model in models.items():
        folder = f"{POLICIES_DIR}/{_policy_folder(policy_id)}"
        policies[policy_id] = _under(folder, export_serving(model_dir / folder, model))
    return {"policies": policies}


def _written(section: Mapping[str, Any]) -> list[str]:
    """The files one policy's ``serving`` section names, for the job's log."""
    written = [section["torchscript"], section["onnx"]]
    if section.get("tensorflow_savedmodel"):
        written.append(section["tensorflow_savedmodel"]["path"] + " (TensorFlow SavedModel)")
    written.append(section["code"])
    return written


def update_metadata(model_dir: Path, section: dict[str, Any]) -> None:
    """Add the ``serving`` section to ``model_dir/metadata.json`` (atomically)."""
    path = model_dir / METADATA_JSON
    metadata = json.loads(path.read_text()) if path.exists() else {}
    metadata["serving"] = section
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metadata, indent=2))
    tmp.replace(path)


def export_model_folder(model_dir: Path, plugins: Plugins, stream: Any = None) -> dict[str, Any]:
    """``rlrt export``: (re)write the serving exports of an existing model folder, its serving model rebuilt from the
    checkpoint by the backend that wrote it (``metadata.json`` ``framework``); any error ends the command."""
    path = model_dir / METADATA_JSON
    verify_model_folder(model_dir, skip=is_export_output)  # what it reads; the exports it rewrites may be gone
    metadata = json.loads(path.read_text()) if path.is_file() else {}
    backend = plugins.require_backend_for_model(model_dir, metadata)
    section = export_serving_models(model_dir, lambda: backend.serving_model(model_dir), stream,
                                    explain_no_savedmodel=True)
    write_manifest(model_dir)  # the new exports are the folder's files now
    return section


def export_failure(exc: BaseException) -> str:
    """How an export error reads in ``metadata.json`` and the job's failure: a user error's own words, else its type
    and message."""
    return str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"


def export_serving_models(model_dir: Path, model: ServingModels | Callable[[], ServingModels],
                          stream: Any = None, explain_no_savedmodel: bool | None = None) -> dict[str, Any]:
    """THE export step at the end of training (and ``rlrt export``): export ``model`` (a :class:`ServingModel`, one
    per policy id, or a callable returning either, so that an error building it is reported like an export error),
    record it in ``metadata.json`` and say what was written.

    A model that cannot be exported (an unsupported space or network, a failed numeric check) is recorded in
    ``metadata.json`` (``serving.error``) and the error raised: the training job fails with its checkpoint kept,
    ``rlrt export`` ends.

    Why there is no TensorFlow SavedModel is said when ``explain_no_savedmodel`` (``rlrt export``), or by default
    when one was asked for (``RLRT_TF_PYTHON`` is set); ``metadata.json`` records it either way.
    """
    out = stream or sys.stdout
    if explain_no_savedmodel is None:
        explain_no_savedmodel = bool(os.environ.get(TF_PYTHON_ENV, "").strip())
    started = time.monotonic()
    try:
        if callable(model) and not isinstance(model, ServingModel):
            model = model()
        section = export_policies(model_dir, model) if isinstance(model, Mapping) else export_serving(model_dir, model)
        update_metadata(model_dir, section)
    except Exception as exc:
        reason = export_failure(exc)
        log.debug("serving export failed", exc_info=True)
        update_metadata(model_dir, {"error": reason[:2000]})
        raise
    policies = section.get("policies") or {None: section}
    written = [name for policy in policies.values() for name in _written(policy)]
    print(f"rlrt: serving exports ({time.monotonic() - started:.1f} s): {', '.join(written)}", file=out, flush=True)
    skipped = sorted({str(policy["tensorflow_skipped"]) for policy in policies.values()
                      if policy.get("tensorflow_skipped")})
    for reason in skipped if explain_no_savedmodel else []:
        print(f"rlrt: no TensorFlow SavedModel: {reason}", file=out, flush=True)
    return section
