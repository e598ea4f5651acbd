"""The job's view of its container: the ``/opt/ml`` tree, hyperparameters, hosts and resources.

The configuration files are checked first (:mod:`runtime.job.config_files`: a malformed one is a user error naming
it), then read through ``sagemaker_training.environment`` (the toolkit SageMaker's own containers use), which honours
``SAGEMAKER_BASE_DIR``. That module computes its paths when it is imported, so :func:`load_environment` sets the
variable first and reloads the module when a different tree is asked for (tests run several trees in one process).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Mapping

from runtime.errors import UserError
from runtime.job.config_files import read_config_files, read_json_object
from runtime.names import BASE_DIR_ENV, CHANNEL_TRAIN, DEFAULT_BASE_DIR, NUM_CPUS_ENV, NUM_GPUS_ENV  # noqa: F401



@dataclass(frozen=True)
class JobEnvironment:
    """An immutable snapshot of the container environment a job runs in."""

    base_dir: Path
    """Root of the ``/opt/ml`` tree."""
    hyperparameters: Mapping[str, Any]
    """Hyperparameters as decoded from ``hyperparameters.json`` (JSON-encoded strings decoded)."""
    current_host: str
    hosts: tuple[str, ...]
    num_cpus: int
    num_gpus: int
    channels: tuple[str, ...] = field(default_factory=tuple)
    """Channels named in ``inputdataconfig.json`` or present under ``input/data``."""

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def checkpoint_dir(self) -> Path:
        return self.base_dir / "checkpoints"

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "output"

    @property
    def intermediate_dir(self) -> Path:
        return self.output_dir / "intermediate"

    @property
    def tensorboard_dir(self) -> Path:
        return self.output_dir / "tensorboard"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def config_dir(self) -> Path:
        return self.base_dir / "input" / "config"

    def channel_dir(self, channel: str) -> Path:
        """The folder of input channel ``channel`` (it may not exist)."""
        return self.base_dir / "input" / "data" / channel

    def has_channel(self, channel: str) -> bool:
        return channel in self.channels

    def require_channel(self, channel: str) -> Path:
        """The folder of ``channel``; a :class:`UserError` naming it when the job was given no such channel."""
        path = self.channel_dir(channel)
        if not path.is_dir():
            raise UserError(
                f"This job needs the '{channel}' input channel, but {path} does not exist. "
                f"Pass it to the estimator's fit(), e.g. estimator.fit({{'{channel}': 's3://bucket/prefix'}}), "
                f"or create the folder in a local run."
            )
        return path

    @property
    def is_master(self) -> bool:
        """True on the first host (the Ray head in a multi-host job)."""
        return self.current_host == sorted(self.hosts)[0]


def _toolkit_environment_module(base_dir: Path) -> ModuleType:
    """Import (or re-import for another tree) ``sagemaker_training.environment`` rooted at ``base_dir``."""
    os.environ[BASE_DIR_ENV] = str(base_dir)
    name = "sagemaker_training.environment"
    module = sys.modules.get(name)
    if module is None:
        return importlib.import_module(name)
    if Path(module.base_dir) != base_dir:
        module = importlib.reload(module)
    return module


def prepare_local_tree(base_dir: Path, hyperparameters: Mapping[str, Any] | None = None) -> None:
    """Lay out an ``/opt/ml``-like tree for a job outside SageMaker, as SageMaker local mode does.

    Hyperparameters are written JSON-encoded, exactly as the SageMaker SDK writes them, so a local job goes through
    the same reading path as a managed one. Existing files are kept (a rerun in the same tree resumes).
    """
    config = base_dir / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (base_dir / "input" / "data").mkdir(parents=True, exist_ok=True)
    (base_dir / "model").mkdir(parents=True, exist_ok=True)
    (base_dir / "output" / "data").mkdir(parents=True, exist_ok=True)
    hp_file = config / "hyperparameters.json"
    existing: dict[str, Any] = read_json_object(hp_file) if hp_file.exists() else {}
    for key, value in (hyperparameters or {}).items():
        existing[key] = json.dumps(value)
    hp_file.write_text(json.dumps(existing, indent=2, sort_keys=True))
    resource = config / "resourceconfig.json"
    if not resource.exists():
        resource.write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    data_config = config / "inputdataconfig.json"
    if not data_config.exists():
        data_config.write_text("{}")


def load_environment(base_dir: Path | str | None = None) -> JobEnvironment:
    """Read the job environment rooted at ``base_dir`` (default: ``$SAGEMAKER_BASE_DIR`` or ``/opt/ml``)."""
    base = Path(base_dir or os.environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR).resolve()
    config = base / "input" / "config"
    for name in ("hyperparameters.json", "resourceconfig.json"):
        if not (config / name).is_file():
            raise UserError(
                f"{config / name} is missing: {base} is not a SageMaker job tree. "
                "Run `rlrt train` without SAGEMAKER_BASE_DIR to create a local one."
            )
    read_config_files(config)  # a malformed file is a UserError naming it, before the toolkit trips over it
    toolkit = _toolkit_environment_module(base)
    try:
        hyperparameters = toolkit.read_hyperparameters()
        resource = toolkit.read_resource_config()
        data_config = toolkit.read_input_data_config() if (config / "inputdataconfig.json").is_file() else {}
    except json.JSONDecodeError as exc:
        raise UserError(f"A file under {config} is not valid JSON: {exc}") from exc
    if not isinstance(hyperparameters, dict):
        raise UserError(f"{config / 'hyperparameters.json'} must hold a JSON object of name -> value.")
    hosts = tuple(resource.get("hosts") or [resource.get("current_host", "algo-1")])
    data_root = base / "input" / "data"
    present = {p.name for p in data_root.iterdir() if p.is_dir()} if data_root.is_dir() else set()
    num_cpus = int(os.environ.get(NUM_CPUS_ENV) or toolkit.num_cpus())
    num_gpus = int(os.environ.get(NUM_GPUS_ENV) or toolkit.num_gpus())
    return JobEnvironment(
        base_dir=base,
        hyperparameters=MappingProxyType(dict(hyperparameters)),
        current_host=str(resource.get("current_host", hosts[0])),
        hosts=hosts,
        num_cpus=max(1, num_cpus),
        num_gpus=max(0, num_gpus),
        channels=tuple(sorted(present | set(data_config))),
    )
