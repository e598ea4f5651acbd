"""Serving exports written into ``/opt/ml/model`` at the end of training.

| file | for |
| --- | --- |
| ``policy.pt`` | TorchScript: ``observations [batch, obs_dim] float32 -> (actions[, action_probabilities])`` |
| ``policy.onnx`` | ONNX (input ``observations``; outputs ``actions`` and, for discrete actions, ``action_probabilities``); what ``rlrt serve`` and ``rlrt transform`` run through ONNX Runtime |
| ``policy_spec.json`` + ``policy_weights.npz`` | the framework-neutral handoff (plain layers, observation filter, action head) |
| ``1/`` | TensorFlow SavedModel for TensorFlow Serving (built in TensorFlow's own environment, see ``RLRT_TF_PYTHON``) |
| ``code/inference.py`` | handlers for SageMaker's PyTorch serving container (and input/output handlers for its TensorFlow Serving container) |

Every export is checked numerically against the policy it came from (ONNX and TorchScript against the torch
policy, the SavedModel against ONNX Runtime) before it is recorded in ``metadata.json`` under ``serving``.
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
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import UserError
from runtime.export.policy import (
    OBSERVATIONS,
    ActionHead,
    NotAnMLP,
    ObservationFilter,
    PolicyDescription,
    mlp_description,
    output_names,
)

log = logging.getLogger(__name__)

from runtime.names import CODE_DIR, ONNX_FILE, SAVEDMODEL_DIR, TF_PYTHON_ENV, TORCHSCRIPT_FILE
from runtime.names import POLICY_SPEC_FILE as SPEC_FILE
from runtime.names import POLICY_WEIGHTS_FILE as WEIGHTS_FILE
ONNX_OPSET = 17
TOLERANCE = 1e-5
TF_EXPORT_TIMEOUT_S = 300


class ExportMismatch(RuntimeError):
    """An exported model does not reproduce the policy it was exported from."""


def check_observations(observation_dim: int, count: int = 64, seed: int = 0) -> np.ndarray:
    """Random float32 observations for the numerical checks (wide enough to exercise filter clipping)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((count, observation_dim)) * 3).astype(np.float32)


def torch_outputs(policy: Any, observations: np.ndarray) -> list[np.ndarray]:
    """Run the torch serving policy on a numpy batch."""
    import torch

    with torch.no_grad():
        return [o.cpu().numpy() for o in policy(torch.as_tensor(observations))]


def assert_close(name: str, got: list[np.ndarray], expected: list[np.ndarray], tolerance: float = TOLERANCE) -> float:
    """Raise :class:`ExportMismatch` unless every output matches within ``tolerance``; returns the largest error."""
    worst = 0.0
    for index, (a, b) in enumerate(zip(got, expected)):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise ExportMismatch(f"{name}: output {index} has shape {a.shape}, expected {b.shape}")
        error = float(np.max(np.abs(a - b))) if a.size else 0.0
        worst = max(worst, error)
        if error > tolerance:
            raise ExportMismatch(f"{name}: output {index} differs by {error:.3g} (> {tolerance:g})")
    return worst


def export_torchscript(policy: Any, observation_dim: int, path: Path) -> None:
    """Trace ``policy`` to TorchScript at ``path``."""
    import torch

    example = torch.as_tensor(check_observations(observation_dim, count=2))
    with torch.no_grad():
        traced = torch.jit.trace(policy, example, check_trace=False)
    traced.save(str(path))


def export_onnx(policy: Any, observation_dim: int, head: ActionHead, path: Path) -> None:
    """Export ``policy`` to ONNX at ``path`` with a dynamic batch dimension."""
    import warnings

    import torch

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
    import onnxruntime as ort

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
    tf_python: Path, model_dir: Path, observations: np.ndarray, expected: list[np.ndarray]
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
        worst = assert_close("SavedModel vs ONNX", got, expected)
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


def export_serving(
    model_dir: Path, policy: Any, head: ActionHead, obs_filter: ObservationFilter | None
) -> dict[str, Any]:
    """Write every serving export of ``policy`` into ``model_dir`` and return the ``serving`` metadata section.

    TorchScript and ONNX must succeed (their failure raises). The SavedModel is built when ``RLRT_TF_PYTHON``
    names TensorFlow's environment; when it is unavailable or the network is not a plain MLP, the section says why.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    dim = int(policy.observation_dim)
    observations = check_observations(dim)
    reference = torch_outputs(policy, observations)

    export_torchscript(policy, dim, model_dir / TORCHSCRIPT_FILE)
    import torch

    with torch.no_grad():
        loaded = torch.jit.load(str(model_dir / TORCHSCRIPT_FILE))
        ts_error = assert_close("TorchScript", [o.numpy() for o in loaded(torch.as_tensor(observations))], reference)

    export_onnx(policy, dim, head, model_dir / ONNX_FILE)
    onnx_ref = onnx_outputs(model_dir / ONNX_FILE, observations)
    onnx_error = assert_close("ONNX", onnx_ref, reference)

    section: dict[str, Any] = {
        "inputs": {OBSERVATIONS: {"shape": [None, dim], "dtype": "float32"}},
        "outputs": output_names(head),
        "head": head.to_json(),
        "observation_filter": "MeanStdFilter (baked in: takes raw observations)" if obs_filter else None,
        "torchscript": TORCHSCRIPT_FILE,
        "onnx": ONNX_FILE,
        "onnx_opset": ONNX_OPSET,
        "max_abs_error": {"torchscript": ts_error, "onnx": onnx_error},
    }
    try:
        layers, weights = mlp_description(policy.body, dim, None if head.kind == "categorical" else head.size)
    except NotAnMLP as exc:
        section["policy_spec"] = None
        section["tensorflow_savedmodel"] = None
        section["tensorflow_skipped"] = f"no plain-layer description of the network: {exc}"
    else:
        description = PolicyDescription(dim, head, obs_filter, layers)
        (model_dir / SPEC_FILE).write_text(json.dumps(description.to_json(), indent=2))
        np.savez(model_dir / WEIGHTS_FILE, **weights)
        section["policy_spec"] = SPEC_FILE
        section["policy_weights"] = WEIGHTS_FILE
        tf_python = find_tf_python()
        if tf_python is None:
            section["tensorflow_savedmodel"] = None
            section["tensorflow_skipped"] = (
                f"{TF_PYTHON_ENV} does not name TensorFlow's environment (build it with scripts/install-tf.sh)"
            )
        else:
            try:
                section["tensorflow_savedmodel"] = export_savedmodel(tf_python, model_dir, observations, onnx_ref)
            except (RuntimeError, ExportMismatch, subprocess.TimeoutExpired, OSError) as exc:
                log.warning("TensorFlow SavedModel export failed: %s", exc)
                print(f"rlrt: warning: no TensorFlow SavedModel: {exc}", file=sys.stderr, flush=True)
                section["tensorflow_savedmodel"] = None
                section["tensorflow_skipped"] = str(exc)[:1000]
    section["code"] = str(write_inference_code(model_dir).relative_to(model_dir))
    return section


def update_metadata(model_dir: Path, section: dict[str, Any]) -> None:
    """Add the ``serving`` section to ``model_dir/metadata.json`` (atomically)."""
    from runtime.export.model_dir import METADATA_JSON

    path = model_dir / METADATA_JSON
    metadata = json.loads(path.read_text()) if path.exists() else {}
    metadata["serving"] = section
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metadata, indent=2))
    tmp.replace(path)


def export_rllib_model_dir(model_dir: Path, algo: Any = None) -> dict[str, Any]:
    """Export the serving policy of an RLlib model folder (from ``algo`` if given, else its checkpoint)."""
    from runtime.backends.rllib.policy import serving_policy_from_algorithm, serving_policy_from_checkpoint

    from runtime.export.model_dir import CHECKPOINT_DIR

    if algo is not None:
        policy, head, obs_filter = serving_policy_from_algorithm(algo)
    else:
        policy, head, obs_filter = serving_policy_from_checkpoint(model_dir / CHECKPOINT_DIR)
    section = export_serving(model_dir, policy, head, obs_filter)
    update_metadata(model_dir, section)
    return section




def export_serving_models(model_dir: Path, stream: Any = None, strict: bool = False) -> dict[str, Any]:
    """The end-of-training hook: export the model folder's RLlib checkpoint and say what was written.

    Not ``strict`` (training): a policy that cannot be exported (an unsupported space or network) is reported on
    stderr and in ``metadata.json`` (``serving.error``), and the training job still succeeds with its checkpoint.
    ``strict`` (``rlrt export``): the error ends the command.
    """
    out = stream or sys.stdout
    started = time.monotonic()
    try:
        section = export_rllib_model_dir(model_dir)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        if strict:
            raise
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, UserError) else str(exc)
        print(f"rlrt: warning: no serving exports (the checkpoint is in {model_dir}): {reason}", file=sys.stderr,
              flush=True)
        log.debug("serving export failed", exc_info=True)
        section = {"error": reason[:2000]}
        update_metadata(model_dir, section)
        return section
    written = [section["torchscript"], section["onnx"]]
    if section.get("tensorflow_savedmodel"):
        written.append(section["tensorflow_savedmodel"]["path"] + " (TensorFlow SavedModel)")
    written.append(section["code"])
    print(f"rlrt: serving exports ({time.monotonic() - started:.1f} s): {', '.join(written)}", file=out, flush=True)
    if section.get("tensorflow_skipped"):
        print(f"rlrt: no TensorFlow SavedModel: {section['tensorflow_skipped']}", file=out, flush=True)
    return section


def record_training_video(algo: Any, env_id: str, spec: Any, intermediate_dir: Path, iteration: int,
                          stream: Any = None) -> int:
    """Record one deterministic episode of the current policy to ``output/intermediate/rollout-iteration-N.mp4``.

    Returns the video interval to keep using: the spec's ``record_video_every``, or 0 after a failure (the
    environment cannot render, say), which is reported once and does not stop training.
    """
    from runtime.backends.rllib.policy import serving_policy_from_algorithm
    from runtime.evaluate.video import play_episode, torch_actor

    out = stream or sys.stdout
    path = intermediate_dir / f"rollout-iteration-{iteration:06d}.mp4"
    started = time.monotonic()
    try:
        policy, _, _ = serving_policy_from_algorithm(algo)
        episode = play_episode(torch_actor(policy), env_id, dict(spec.env_config), video=path, seed=iteration)
    except Exception as exc:  # noqa: BLE001 - a video must never end a training job
        print(f"rlrt: warning: rollout video at iteration {iteration} failed, videos are off: {exc}", file=sys.stderr,
              flush=True)
        return 0
    print(f"rlrt: rollout video {path.name}: {episode.frames} frames, episode reward {episode.reward:.2f}, "
          f"{episode.steps} steps ({time.monotonic() - started:.1f} s)", file=out, flush=True)
    return int(spec.extras.get("record_video_every", 0) or 0)
