"""``policy.pt``: the serving policy traced to TorchScript,
``observations [batch, obs_dim] float32 -> (actions[, action_probabilities[, q_values]])``."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from runtime.export.checks import CHECK_SEED, check_observations, compare_outputs
from runtime.export.exporter import ExportInput, Exporter
from runtime.names import TORCHSCRIPT_FILE


def export_torchscript(policy: Any, observation_dim: int, path: Path) -> None:
    """Trace ``policy`` to TorchScript at ``path``."""
    import torch  # heavy: torch (~1.5 s)

    example = torch.as_tensor(check_observations(observation_dim, count=2))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings for shape asserts in the frameworks' code
        traced = torch.jit.trace(policy, example, check_trace=False)
    # Saved into memory, then written by Python: torch's own file writer aborts the process (std::terminate) when
    # the disk fills, where Python raises an OSError the command reports.
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    path.write_bytes(buffer.getvalue())


class TorchScript(Exporter):
    """TorchScript, checked against the torch module it was traced from."""

    name = "torchscript"
    files = (TORCHSCRIPT_FILE,)
    title = "TorchScript"

    def export(self, model: ExportInput, dest: Path) -> None:
        export_torchscript(model.serving.module, model.serving.observation_dim, dest / TORCHSCRIPT_FILE)

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        import torch  # heavy: torch (~1.5 s)

        with torch.no_grad():
            loaded = torch.jit.load(str(dest / TORCHSCRIPT_FILE))
            torch.manual_seed(CHECK_SEED)
            got = [o.numpy() for o in loaded(torch.as_tensor(model.observations))]
        model.outputs[self.name] = got
        error = compare_outputs("TorchScript", model.serving.head, got, model.reference, tolerance=model.tolerance)
        return {self.name: TORCHSCRIPT_FILE, "max_abs_error": {self.name: error}}
