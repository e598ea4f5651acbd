"""The export format contract: each serving format is one :class:`Exporter`, and the pipeline runs the tuple
:data:`runtime.export.formats.EXPORTERS` in order (the model folder's export files follow from it)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from runtime.export.mlp import NotAnMLP
from runtime.export.policy import PolicyDescription, ServingModel


@dataclass
class ExportInput:
    """What every exporter is handed: the backend's serving model and the data its export is checked on."""

    serving: ServingModel
    observations: np.ndarray
    """The check's observations (``checks.check_observations``)."""
    reference: list[np.ndarray]
    """The torch serving module's outputs on :attr:`observations` (torch seeded with ``checks.CHECK_SEED``)."""
    scratch: Path
    """A temporary folder for this export run (removed after it)."""
    tolerance: float
    """What an export's outputs may differ from :attr:`reference` by (``checks.export_tolerance``)."""
    convention: str = "rlrt"
    """How the model answers requests: ``coach`` for a model trained from a Coach preset (its preset's ``serving``;
    :mod:`runtime.export.coach_export`), else ``rlrt``."""
    outputs: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Outputs on :attr:`observations` of the exports checked so far, by exporter name (a later format may be
    checked against an earlier one: the SavedModel against ONNX Runtime)."""

    _description: tuple[PolicyDescription, dict[str, np.ndarray]] | None = field(default=None, repr=False)

    def description(self) -> tuple[PolicyDescription, dict[str, np.ndarray]]:
        """The plain-layer description and its weights (made once); :class:`NotAnMLP` when there is none (a random
        policy's outputs cannot be rebuilt from its layers either)."""
        if self.serving.stochastic:
            raise NotAnMLP(self.serving.stochastic)
        if self._description is None:
            self._description = self.serving.describe()
        return self._description


class Exporter(abc.ABC):
    """One serving format: the files it writes into a policy's export folder, how it writes them, how it checks them.

    The pipeline calls :meth:`skip_reason`, then :meth:`export` and :meth:`check`; an exception from either fails the
    whole export with its message (the training job keeps its checkpoint), after the format's files are removed.
    """

    name: ClassVar[str]
    """The format's key in ``metadata.json``'s ``serving`` section (and in :attr:`ExportInput.outputs`)."""
    files: ClassVar[tuple[str, ...]]
    """The paths it writes, relative to the export folder; a folder ends with ``/``."""
    title: ClassVar[str]
    """What the format is for, in a few words (the job's log, ``rlrt export --help``)."""

    def skip_reason(self, model: ExportInput) -> str | None:
        """Why this format is not written for ``model`` (None: it is). Only an optional format has one."""
        return None

    def skipped(self, reason: str) -> dict[str, Any]:
        """The ``serving`` entries recorded when the format was skipped for ``reason``."""
        return {self.name: None}

    @abc.abstractmethod
    def export(self, model: ExportInput, dest: Path) -> None:
        """Write :attr:`files` into ``dest``."""

    @abc.abstractmethod
    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        """Check what :meth:`export` wrote reproduces ``model`` (raise ``checks.ExportMismatch`` saying how it does
        not); the ``serving`` entries to record: at least :attr:`name`, and a numeric check's largest error under
        ``max_abs_error``."""
