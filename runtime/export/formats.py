"""The serving formats the export pipeline writes, in order: a format is a :class:`runtime.export.exporter.Exporter`
in its own module, registered by one line in :data:`EXPORTERS`. The model folder's export files follow from it."""

from __future__ import annotations

from runtime.export.code_export import InferenceCode
from runtime.export.coach_export import CoachOnnx
from runtime.export.exporter import Exporter
from runtime.export.mlagents_export import MLAgentsOnnx
from runtime.export.onnx_export import Onnx
from runtime.export.savedmodel_export import SavedModel
from runtime.export.spec_export import PolicySpec
from runtime.export.torchscript_export import TorchScript

EXPORTERS: tuple[Exporter, ...] = (
    TorchScript(),
    Onnx(),
    CoachOnnx(),  # models trained from a Coach preset only
    MLAgentsOnnx(),  # Unity jobs only
    PolicySpec(),
    SavedModel(),  # built from PolicySpec's files, checked against ONNX's outputs: after both
    InferenceCode(),
)


def export_names() -> set[str]:
    """The first path component of every file the formats write (``policy.onnx``, ``1``, ``code``, ...)."""
    return {path.split("/", 1)[0] for exporter in EXPORTERS for path in exporter.files}


def export_paths() -> set[str]:
    """Every path the formats write, as :attr:`Exporter.files` names them (``policy.onnx``, ``1/``, ...)."""
    return {path for exporter in EXPORTERS for path in exporter.files}


def describe_formats() -> str:
    """The formats for a reader: ``policy.pt (TorchScript), policy.onnx (ONNX), ...``."""
    return ", ".join(f"{' + '.join(exporter.files)} ({exporter.title})" for exporter in EXPORTERS)
