"""d3rlpy itself: imported quietly, and its model file written and read (the backend's session, configuration,
serving policy and model loading all go through here)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

from runtime.backends.d3rlpy import squared_error
from runtime.names import D3RLPY_MODEL_FILE

GRAD_STEP_FILE = "grad_step.json"
"""The gradient-step counter beside ``model.d3`` in a checkpoint (d3rlpy does not store it)."""


def import_d3rlpy() -> Any:
    """d3rlpy, imported without the lines a user cannot act on: gym's notice about itself (d3rlpy imports gym) and
    the INFO/DEBUG lines d3rlpy and the gymnasium plugins it loads write through structlog (warnings stay);
    with rlrt's squared-error Q-function registered (:mod:`.squared_error`)."""
    import structlog  # heavy: d3rlpy's logging, loaded with d3rlpy

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if "gym" not in sys.modules:
        with contextlib.redirect_stderr(io.StringIO()):
            with contextlib.suppress(ImportError):
                import gym  # noqa: F401  # heavy: imported by d3rlpy; here first, to silence its notice
    import d3rlpy  # heavy: torch and d3rlpy (~3 s), only for offline jobs

    squared_error.register()  # before any config or model file that names it is read
    return d3rlpy


def save_algo(algo: Any, folder: Path) -> None:
    """d3rlpy's own model file plus the gradient-step counter (d3rlpy does not store it)."""
    d3rlpy = import_d3rlpy()
    d3rlpy.base.dump_learnable(algo, str(folder / D3RLPY_MODEL_FILE))
    (folder / GRAD_STEP_FILE).write_text(json.dumps({"grad_step": int(algo.grad_step)}))


def load_algo(model_file: Path, device: str | None = None) -> Any:
    """A d3rlpy algorithm from its model file (``device`` as d3rlpy names it, e.g. ``cpu:0``; None: d3rlpy's
    default)."""
    d3rlpy = import_d3rlpy()
    if device is None:
        return d3rlpy.load_learnable(str(model_file))
    return d3rlpy.load_learnable(str(model_file), device=device)
