"""``policy_spec.json`` + ``policy_weights.npz``: the framework-neutral handoff (plain layers, observation filter,
action head) another framework rebuilds the policy from (the TensorFlow SavedModel is built from it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from runtime.export.checks import ExportMismatch
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.mlp import NotAnMLP
from runtime.names import POLICY_SPEC_FILE, POLICY_WEIGHTS_FILE


class PolicySpec(Exporter):
    """The plain-layer description, when the network has one (its weights read back must be the ones written)."""

    name = "policy_spec"
    files = (POLICY_SPEC_FILE, POLICY_WEIGHTS_FILE)
    title = "plain-layer description"

    def skip_reason(self, model: ExportInput) -> str | None:
        try:
            model.description()
        except NotAnMLP as exc:
            return f"no plain-layer description of the policy: {exc}"
        return None

    def export(self, model: ExportInput, dest: Path) -> None:
        description, weights = model.description()
        (dest / POLICY_SPEC_FILE).write_text(json.dumps(description.to_json(), indent=2))
        np.savez(dest / POLICY_WEIGHTS_FILE, allow_pickle=False, **weights)

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        json.loads((dest / POLICY_SPEC_FILE).read_text())
        with np.load(dest / POLICY_WEIGHTS_FILE) as saved:
            _, weights = model.description()
            if sorted(saved.files) != sorted(weights) or not all(
                np.array_equal(saved[name], np.asarray(value)) for name, value in weights.items()
            ):
                raise ExportMismatch(f"{POLICY_WEIGHTS_FILE} does not hold the policy's weights")
        return {self.name: POLICY_SPEC_FILE, "policy_weights": POLICY_WEIGHTS_FILE}
