"""``1/``: a TensorFlow SavedModel for TensorFlow Serving, built from the plain-layer description by
``tf_savedmodel.py`` in TensorFlow's own environment (a separate process: see ``RLRT_TF_PYTHON``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from runtime.export.checks import ExportMismatch, compare_outputs
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.mlp import NotAnMLP
from runtime.names import POLICY_SPEC_FILE, POLICY_WEIGHTS_FILE, SAVEDMODEL_DIR, TF_PYTHON_ENV

TF_EXPORT_TIMEOUT_S = 300
_CHECK_IN = "savedmodel_check_in.npz"
_CHECK_OUT = "savedmodel_check_out.npz"
_RUN = "savedmodel_run.json"
"""In the run's scratch folder: how long the TensorFlow process took and the TensorFlow version it printed."""


def find_tf_python() -> Path | None:
    """The TensorFlow environment's python from ``RLRT_TF_PYTHON``, or None (SavedModel export off)."""
    value = os.environ.get(TF_PYTHON_ENV, "").strip()
    if not value:
        return None
    path = Path(value)
    return path if path.exists() else None


class SavedModel(Exporter):
    """Optional: built when ``RLRT_TF_PYTHON`` names TensorFlow's environment and the network has a plain-layer
    description (the :class:`runtime.export.spec_export.PolicySpec` files, written before it), then checked against
    ONNX Runtime's outputs. Once promised, its failure is the export's, like ONNX's (exit 0 promises every export
    the model can have)."""

    name = "tensorflow_savedmodel"
    files = (SAVEDMODEL_DIR + "/",)
    title = "TensorFlow SavedModel"

    def skip_reason(self, model: ExportInput) -> str | None:
        try:
            model.description()
        except NotAnMLP as exc:
            return f"no plain-layer description of the policy: {exc}"
        if find_tf_python() is None:
            return f"{TF_PYTHON_ENV} does not name TensorFlow's environment (build it with scripts/install-tf.sh)"
        return None

    def skipped(self, reason: str) -> dict[str, Any]:
        return {self.name: None, "tensorflow_skipped": reason}

    def export(self, model: ExportInput, dest: Path) -> None:
        tf_python = find_tf_python()
        script = Path(__file__).with_name("tf_savedmodel.py")
        target = dest / SAVEDMODEL_DIR
        shutil.rmtree(target, ignore_errors=True)
        np.savez(model.scratch / _CHECK_IN, observations=model.observations)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)
        started = time.monotonic()
        try:
            done = subprocess.run(
                [
                    str(tf_python),
                    str(script),
                    str(dest / POLICY_SPEC_FILE),
                    str(dest / POLICY_WEIGHTS_FILE),
                    str(target),
                    str(model.scratch / _CHECK_IN),
                    str(model.scratch / _CHECK_OUT),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=TF_EXPORT_TIMEOUT_S,
            )
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise self._failed(tf_python, exc) from exc
        if done.returncode != 0:
            raise self._failed(
                tf_python, f"the TensorFlow exporter failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
            )
        lines = done.stdout.strip().splitlines()
        run = {"seconds": round(time.monotonic() - started, 1), "tensorflow": lines[-1] if lines else ""}
        (model.scratch / _RUN).write_text(json.dumps(run))

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        with np.load(model.scratch / _CHECK_OUT) as data:
            got = [data[name] for name in sorted(data.files, key=lambda n: int(n.split("_")[1]))]
        model.outputs[self.name] = got
        try:
            worst = compare_outputs("SavedModel vs ONNX", model.serving.head, got, model.outputs["onnx"])
        except ExportMismatch as exc:
            raise self._failed(find_tf_python(), exc) from exc
        return {
            self.name: {
                "path": self.files[0],
                "max_abs_error_vs_onnx": worst,
                **json.loads((model.scratch / _RUN).read_text()),
            }
        }

    @staticmethod
    def _failed(tf_python: Path | None, reason: object) -> ExportMismatch:
        return ExportMismatch(f"the TensorFlow SavedModel ({TF_PYTHON_ENV}={tf_python}) failed: {reason}")
