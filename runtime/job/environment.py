"""The job's view of its container: the ``/opt/ml`` tree, hyperparameters, hosts and resources.

The configuration files under ``input/config`` are parsed and checked (:mod:`runtime.job.config_files`: a malformed
one is a user error naming it) and read as sagemaker-training's ``environment`` module reads them: hyperparameter
values JSON-decoded where they parse (:func:`~runtime.config.values.decode_value`), the CPUs and GPUs counted unless
``SM_NUM_CPUS`` / ``SM_NUM_GPUS`` give them. The tree is ``SAGEMAKER_BASE_DIR`` (default ``/opt/ml``), and
:func:`load_environment` points that variable at the tree it reads, for what reads it later (the failure file of
:mod:`runtime.errors`) and the processes the job starts (sagemaker-training in a script-mode job). The toolkit's
``environment`` module itself is not used: it fixes its paths when first imported, and imports boto3.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from runtime.config.values import decode_value
from runtime.errors import UserError
from runtime.job.config_files import read_config_files, read_json_object
from runtime.job.cpus import check_host_cpus, usable_cpus
from runtime.names import (  # noqa: F401
    BASE_DIR_ENV,
    CHANNEL_TRAIN,
    CHECKPOINTS_DIR,
    CODE_DIR_IN_TREE,
    CONFIG_DIR,
    DATA_DIR,
    DEFAULT_BASE_DIR,
    FAILURE_FILE,
    HYPERPARAMETERS_JSON,
    INPUT_DATA_CONFIG_JSON,
    INTERMEDIATE_DIR,
    LOCAL_TREE_FILE,
    MODEL_DIR,
    NUM_CPUS_ENV,
    NUM_GPUS_ENV,
    OUTPUT_DATA_DIR,
    OUTPUT_DIR,
    RESOURCE_CONFIG_JSON,
    TENSORBOARD_DIR,
)


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
    outputs: Path | None = None
    """Where the command writes what it makes instead of ``output/intermediate`` (:attr:`intermediate_dir`):
    ``rlrt evaluate`` beside the model it plays, in the model's tree (:func:`runtime.job.setup.run_beside`)."""

    @property
    def model_dir(self) -> Path:
        return self.base_dir / MODEL_DIR

    @property
    def checkpoint_dir(self) -> Path:
        return self.base_dir / CHECKPOINTS_DIR

    @property
    def output_dir(self) -> Path:
        return self.base_dir / OUTPUT_DIR

    @property
    def intermediate_dir(self) -> Path:
        return self.outputs or self.base_dir / INTERMEDIATE_DIR

    @property
    def tensorboard_dir(self) -> Path:
        return self.base_dir / TENSORBOARD_DIR

    @property
    def failure_file(self) -> Path:
        return self.base_dir / FAILURE_FILE

    @property
    def config_dir(self) -> Path:
        return self.base_dir / CONFIG_DIR

    def channel_dir(self, channel: str) -> Path:
        """The folder of input channel ``channel`` (it may not exist)."""
        return self.base_dir / DATA_DIR / channel

    def has_channel(self, channel: str) -> bool:
        return channel in self.channels

    def in_tree(self, path: Path) -> Path:
        """``path`` as this job sees it: a SageMaker path a script names (``/opt/ml/output/data/...``) moves into the
        job's own tree when that is not ``/opt/ml`` (``SAGEMAKER_BASE_DIR``, a local job); any other path stays."""
        if self.base_dir != DEFAULT_BASE_DIR and path.is_absolute() and path.is_relative_to(DEFAULT_BASE_DIR):
            return self.base_dir / path.relative_to(DEFAULT_BASE_DIR)
        return path

    def require_channel(self, channel: str) -> Path:
        """The folder of ``channel``; a :class:`UserError` naming it when the job was given no such channel."""
        path = self.channel_dir(channel)
        if not path.is_dir():
            pipe = self.pipe_mode_note(channel)
            if pipe:
                raise UserError(f"This job needs the '{channel}' input channel as a folder, but {pipe}")
            local = LOCAL_CHANNEL_HINTS.get(channel, f"create {path} and put the files there")
            raise UserError(
                f"This job needs the '{channel}' input channel, but {path} does not exist. On SageMaker, pass it to "
                f"the estimator's fit(), e.g. estimator.fit({{'{channel}': 's3://bucket/prefix'}}); outside "
                f"SageMaker, {local}."
            )
        return path

    def pipe_mode_note(self, channel: str) -> str:
        """A sentence when ``channel`` came in SageMaker's Pipe mode (``inputdataconfig.json`` says so, or its named
        pipes ``<channel>_0``, ... are there instead of a folder), which rlrt does not read; else ''."""
        try:
            config = json.loads((self.config_dir / INPUT_DATA_CONFIG_JSON).read_text())
            mode = str((config.get(channel) or {}).get("TrainingInputMode", ""))
        except (OSError, ValueError, AttributeError):
            mode = ""
        fifo = self.channel_dir(f"{channel}_0")
        if mode.lower() != "pipe" and not os.path.lexists(fifo):
            return ""
        return (
            f"it came in Pipe mode ({fifo} is a named pipe, not a folder of files): rlrt reads channels in File "
            "mode. Give the channel input_mode='File' (or 'FastFile'), e.g. "
            f"TrainingInput(s3_data=..., input_mode='File'), or the estimator's input_mode='File'."
        )

    @property
    def is_master(self) -> bool:
        """True on the first host (the Ray head in a multi-host job)."""
        return self.current_host == sorted(self.hosts)[0]


def _count_gpus() -> int:
    """The GPUs this container has, counted as sagemaker-training's ``environment.num_gpus`` counts them: the lines
    of ``nvidia-smi --list-gpus`` (0 without nvidia-smi)."""
    try:
        output = subprocess.check_output(["nvidia-smi", "--list-gpus"]).decode("utf-8")
    except (OSError, subprocess.CalledProcessError):
        return 0
    return sum(1 for line in output.split("\n") if line.startswith("GPU "))


LOCAL_CHANNEL_HINTS = {
    "model": "name the model with --model PATH (a model folder, or a model.tar.gz; `rlrt train` writes one in its "
    "tree's model/)",
    "checkpoint": "name the model with --model PATH (a model folder, or a model.tar.gz)",
}
"""What a user outside SageMaker does instead of passing a channel, for the channels a command takes another way."""

NESTED_ROOT = "rl"
"""A hyperparameter of this name holding a JSON object is the dotted grammar nested: ``{"rl": {"training": {"stop":
{"training_iteration": 2}}}}`` means ``rl.training.stop.training_iteration=2``. SageMaker SDK 3 exports each
hyperparameter as a shell variable (``SM_HP_<NAME>``), which a dotted name cannot be."""


def decode_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``hyperparameters.json``'s values as sagemaker-training reads them (:func:`decode_value` each), a nested
    ``rl`` object made dotted names (:func:`flatten_nested`)."""
    return flatten_nested({key: decode_value(value) for key, value in raw.items()})


def flatten_nested(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """``hyperparameters`` with an ``rl`` object (:data:`NESTED_ROOT`) replaced by one dotted name per leaf (an empty
    object and a list are leaves); a :class:`UserError` when a dotted name is also given with another value."""
    nested = hyperparameters.get(NESTED_ROOT)
    if not isinstance(nested, Mapping):
        return dict(hyperparameters)
    flat = {key: value for key, value in hyperparameters.items() if key != NESTED_ROOT}
    pending: list[tuple[str, Any]] = [(NESTED_ROOT, nested)]
    while pending:
        prefix, value = pending.pop()
        if isinstance(value, Mapping) and value:
            pending += [(f"{prefix}.{key}", item) for key, item in value.items()]
            continue
        if prefix in flat and flat[prefix] != value:
            raise UserError(
                f"The hyperparameter {prefix} is given twice: {json.dumps(flat[prefix], default=str)} "
                f"and, inside the '{NESTED_ROOT}' object, {json.dumps(value, default=str)}. Give it once."
            )
        flat[prefix] = value
    return flat


def prepare_local_tree(base_dir: Path, hyperparameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Lay out an ``/opt/ml``-like tree for a job outside SageMaker, as SageMaker local mode does; returns the
    hyperparameters the tree held before (decoded; none in a new tree).

    Hyperparameters are written JSON-encoded, exactly as the SageMaker SDK writes them, so a local job goes through
    the same reading path as a managed one. Existing files are kept (a rerun in the same tree resumes).
    """
    config = base_dir / CONFIG_DIR
    config.mkdir(parents=True, exist_ok=True)
    (base_dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
    (base_dir / MODEL_DIR).mkdir(parents=True, exist_ok=True)
    (base_dir / OUTPUT_DATA_DIR).mkdir(parents=True, exist_ok=True)
    hp_file = config / HYPERPARAMETERS_JSON
    existing: dict[str, Any] = read_json_object(hp_file) if hp_file.exists() else {}
    before = decode_hyperparameters(existing)
    for key, value in (hyperparameters or {}).items():
        existing[key] = json.dumps(value)
    hp_file.write_text(json.dumps(existing, indent=2, sort_keys=True))
    resource = config / RESOURCE_CONFIG_JSON
    if not resource.exists():
        resource.write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    data_config = config / INPUT_DATA_CONFIG_JSON
    if not data_config.exists():
        data_config.write_text("{}")
    (base_dir / LOCAL_TREE_FILE).touch()
    return before


def _count_from(variable: str, default: Callable[[], int]) -> int:
    """A count from the environment variable ``variable`` (``SM_NUM_CPUS``, ``SM_NUM_GPUS``), else ``default()``; a
    value that is not a whole number >= 0 is a :class:`UserError` naming the variable."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default()
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise UserError(
            f"The environment variable {variable}={raw!r} must be a whole number >= 0 (SageMaker sets it "
            "to the instance's count); unset it or fix it."
        )
    return value


def _check_visible_gpus(asked: int) -> None:
    """A :class:`UserError` when ``SM_NUM_GPUS`` asks for more GPUs than this machine shows (nvidia-smi, else torch:
    a container may have CUDA without nvidia-smi); Ray and torch would otherwise fail on an assertion deep inside."""
    visible = _count_gpus()
    if visible < asked:
        import torch  # heavy: torch (~1.5 s), only when nvidia-smi shows too few GPUs

        visible = max(visible, torch.cuda.device_count())
    if visible < asked:
        raise UserError(
            f"The environment variable {NUM_GPUS_ENV}={os.environ[NUM_GPUS_ENV].strip()} asks for {asked} "
            f"GPU(s), but {'none is' if not visible else f'only {visible} is'} visible on this machine "
            "(nvidia-smi, CUDA_VISIBLE_DEVICES, torch.cuda). Unset it or set it to 0 to train on the CPU, "
            "or run the job on a GPU instance with the GPU image."
        )


def load_environment(base_dir: Path | str | None = None) -> JobEnvironment:
    """Read the job environment rooted at ``base_dir`` (default: ``$SAGEMAKER_BASE_DIR`` or ``/opt/ml``), and point
    ``SAGEMAKER_BASE_DIR`` at it."""
    base = Path(base_dir or os.environ.get(BASE_DIR_ENV) or DEFAULT_BASE_DIR).resolve()
    config = base / CONFIG_DIR
    for name in (HYPERPARAMETERS_JSON, RESOURCE_CONFIG_JSON):
        if not (config / name).is_file():
            raise UserError(
                f"{config / name} is missing: {base} is not a SageMaker job tree. "
                "Run `rlrt train` without SAGEMAKER_BASE_DIR to create a local one."
            )
    files = read_config_files(config)  # a malformed file is a UserError naming it
    os.environ[BASE_DIR_ENV] = str(base)
    # sagemaker-training makes <base>/code when it is imported; a job tree has one (runtime.offline.sources.code_dirs).
    try:
        (base / CODE_DIR_IN_TREE).mkdir(exist_ok=True)
    except OSError:
        pass  # a read-only tree: the code folder is only looked in
    hyperparameters = decode_hyperparameters(files[HYPERPARAMETERS_JSON])
    resource = files[RESOURCE_CONFIG_JSON]
    data_config = files.get(INPUT_DATA_CONFIG_JSON, {})
    hosts = tuple(resource.get("hosts") or [resource.get("current_host", "algo-1")])
    data_root = base / DATA_DIR
    present = {p.name for p in data_root.iterdir() if p.is_dir()} if data_root.is_dir() else set()
    num_cpus = check_host_cpus(NUM_CPUS_ENV, _count_from(NUM_CPUS_ENV, usable_cpus))
    num_gpus = _count_from(NUM_GPUS_ENV, _count_gpus)
    if num_gpus > 0 and os.environ.get(NUM_GPUS_ENV, "").strip():
        _check_visible_gpus(num_gpus)
    return JobEnvironment(
        base_dir=base,
        hyperparameters=MappingProxyType(hyperparameters),
        current_host=str(resource.get("current_host", hosts[0])),
        hosts=hosts,
        num_cpus=max(1, num_cpus),
        num_gpus=max(0, num_gpus),
        channels=tuple(sorted(present | set(data_config))),
    )
