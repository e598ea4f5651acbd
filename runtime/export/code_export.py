"""``code/inference.py`` (with ``code/rlrt_codec.py`` and ``code/rlrt_number_rows.py`` beside it): the handlers for
SageMaker's PyTorch serving container, and the input/output handlers for its TensorFlow Serving container."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from runtime.export.checks import ExportMismatch
from runtime.export.exporter import ExportInput, Exporter
from runtime.names import CODE_DIR

_SERVING = Path(__file__).resolve().parent.parent / "serving"
_COPIES = {
    f"{CODE_DIR}/inference.py": _SERVING / "sagemaker_inference.py",
    f"{CODE_DIR}/rlrt_codec.py": _SERVING / "codec.py",
    f"{CODE_DIR}/rlrt_number_rows.py": _SERVING / "number_rows.py",
}
"""Each file of the code folder and the runtime's module it is a copy of."""


class InferenceCode(Exporter):
    """The SageMaker serving handlers (the same for every model: they read ``metadata.json``)."""

    name = "code"
    files = tuple(_COPIES)
    title = "SageMaker serving handlers"

    def export(self, model: ExportInput, dest: Path) -> None:
        (dest / CODE_DIR).mkdir(parents=True, exist_ok=True)
        for name, source in _COPIES.items():
            shutil.copyfile(source, dest / name)

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        for name, source in _COPIES.items():
            if (dest / name).read_bytes() != source.read_bytes():
                raise ExportMismatch(f"{name} is not a whole copy of {source.name}")
        return {self.name: self.files[0]}
