"""rlrt's pytest plugin: test your own SageMaker RL project with tiny jobs, as the container runs them.

Installed with rlrt (entry point ``pytest11``: ``rlrt``), so any test of a project that has rlrt installed can take
the :func:`rlrt_job` fixture::

    def test_my_launcher_trains(rlrt_job):
        run = rlrt_job.script("src", "train-reacher.py", {"rl.training.config.train_batch_size": 1000})
        assert run.returncode == 0, run.output[-3000:]
        assert run.last("episode_reward_mean") is not None
        assert (run.model_dir / "policy.onnx").is_file()

Each job gets a SageMaker-like tree (``input/config``, ``input/data/<channel>``, ``model``, ``output``) in the
test's ``tmp_path``; :meth:`RlrtJobs.script` packs a source dir into ``sourcedir.tar.gz`` and runs its entry point
through the container's ``train`` exactly as script mode does (``sagemaker_program`` +
``sagemaker_submit_directory``); :meth:`RlrtJobs.preset` runs ``rlrt train`` on a preset. The stop criteria are forced
tiny: ``rl.training.stop.training_iteration`` is ``--rlrt-iterations`` (default 1) unless the test sets it. The
result (:class:`JobResult`) has the exit code, the log, the SDK's metric lines parsed, the model folder and the
failure text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pytest

ITERATIONS_OPTION = "--rlrt-iterations"
STOP_ITERATIONS = "rl.training.stop.training_iteration"
METRIC_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?)\s*$", re.M)
"""A ``name: value`` line as the SageMaker SDK's Ray metric definitions read them."""
DEFAULT_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class JobResult:
    """How one job ended, and where its outputs are."""

    returncode: int
    output: str
    """The job's stdout and stderr, as SageMaker's log shows them."""
    base: Path
    """The job's ``/opt/ml`` tree."""

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def intermediate_dir(self) -> Path:
        return self.base / "output" / "intermediate"

    @property
    def failure(self) -> str | None:
        """``output/failure``: the reason the job failed, or None."""
        path = self.base / "output" / "failure"
        return path.read_text() if path.is_file() else None

    @property
    def metrics(self) -> dict[str, list[float]]:
        """Every ``name: value`` metric line of the log, by name, in order."""
        found: dict[str, list[float]] = {}
        for name, value, _ in METRIC_LINE.findall(self.output):
            found.setdefault(name, []).append(float(value))
        return found

    def last(self, name: str) -> float | None:
        """The last value the log printed for metric ``name``, or None."""
        values = self.metrics.get(name)
        return values[-1] if values else None

    def videos(self) -> list[Path]:
        """The rollout and evaluation videos in ``output/intermediate``."""
        return sorted(self.intermediate_dir.glob("*.mp4")) if self.intermediate_dir.is_dir() else []


class RlrtJobs:
    """Runs tiny rlrt jobs in a test's temporary folder (the :func:`rlrt_job` fixture)."""

    def __init__(self, folder: Path, iterations: int) -> None:
        self.folder = folder
        self.iterations = iterations
        self.count = 0

    def _tree(self, hyperparameters: Mapping[str, Any], channels: Mapping[str, Path] | None) -> Path:
        self.count += 1
        base = self.folder / f"job-{self.count}" / "ml"
        config = base / "input" / "config"
        config.mkdir(parents=True)
        host = socket.gethostname()  # sagemaker-training resolves the job's host names
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": [host]}))
        given = {STOP_ITERATIONS: self.iterations, **hyperparameters}
        (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in given.items()}))
        data = {}
        for name, source in (channels or {}).items():
            target = base / "input" / "data" / name
            if Path(source).is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                target.mkdir(parents=True)
                shutil.copy2(source, target)
            data[name] = {"TrainingInputMode": "File"}
        (base / "input" / "data").mkdir(parents=True, exist_ok=True)
        (config / "inputdataconfig.json").write_text(json.dumps(data))
        return base

    def _run(self, command: list[str], base: Path, timeout: float | None) -> JobResult:
        env = {
            **os.environ,
            "SAGEMAKER_BASE_DIR": str(base),
            "PYTHONUNBUFFERED": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        try:
            done = subprocess.run(
                command, env=env, cwd=base.parent, capture_output=True, text=True, timeout=timeout or DEFAULT_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            output = "".join(
                part.decode() if isinstance(part, bytes) else (part or "") for part in (exc.stdout, exc.stderr)
            )
            pytest.fail(f"the rlrt job in {base} did not end within {exc.timeout:g} s; its log ends:\n{output[-3000:]}")
        return JobResult(done.returncode, done.stdout + done.stderr, base)

    def script(
        self,
        source_dir: Path | str,
        entry_point: str,
        hyperparameters: Mapping[str, Any] | None = None,
        channels: Mapping[str, Path] | None = None,
        timeout: float | None = None,
    ) -> JobResult:
        """Run ``entry_point`` of ``source_dir`` (your ``src/``) through the container's ``train`` in script mode,
        with ``hyperparameters`` (as the estimator's) and ``channels`` (name -> a local folder or file, as
        ``fit({...})`` inputs)."""
        source = Path(source_dir)
        if not (source / entry_point).is_file():
            raise FileNotFoundError(f"{source / entry_point} does not exist")
        upload = self.folder / f"upload-{self.count + 1}"
        upload.mkdir(parents=True)
        archive = upload / "sourcedir.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:  # as the SDK packs source_dir: its files at the root
            for path in sorted(source.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    tar.add(path, arcname=str(path.relative_to(source)))
        base = self._tree(
            {
                "sagemaker_program": entry_point,
                "sagemaker_submit_directory": str(archive),
                **dict(hyperparameters or {}),
            },
            channels,
        )
        return self._run([sys.executable, "-m", "runtime.container", "train"], base, timeout)

    def preset(
        self,
        name: str,
        hyperparameters: Mapping[str, Any] | None = None,
        channels: Mapping[str, Path] | None = None,
        timeout: float | None = None,
    ) -> JobResult:
        """Run ``rlrt train`` on the preset ``name`` (a shipped preset or a YAML file)."""
        base = self._tree({"preset": name, **dict(hyperparameters or {})}, channels)
        return self._run([sys.executable, "-m", "runtime.cli", "train"], base, timeout)

    def evaluate(
        self,
        model: Path,
        entry_point: str | None = None,
        source_dir: Path | str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        channels: Mapping[str, Path] | None = None,
        timeout: float | None = None,
    ) -> JobResult:
        """An evaluation job on ``model`` (the ``model`` channel): ``entry_point`` of ``source_dir`` in script mode
        (the notebooks' ``evaluate-ray.py``), or ``rlrt evaluate``."""
        channels = {"model": model, **dict(channels or {})}
        if entry_point is not None and source_dir is not None:
            return self.script(source_dir, entry_point, hyperparameters, channels, timeout)
        base = self._tree(dict(hyperparameters or {}), channels)
        return self._run([sys.executable, "-m", "runtime.cli", "evaluate"], base, timeout)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rlrt", "rlrt jobs (the rlrt_job fixture)")
    group.addoption(
        ITERATIONS_OPTION,
        type=int,
        default=1,
        metavar="N",
        help="training iterations each rlrt_job job runs (rl.training.stop.training_iteration; default 1)",
    )


@pytest.fixture
def rlrt_job(tmp_path: Path, request: pytest.FixtureRequest) -> RlrtJobs:
    """Tiny rlrt jobs in this test's ``tmp_path`` (see :class:`RlrtJobs`)."""
    return RlrtJobs(tmp_path, int(request.config.getoption(ITERATIONS_OPTION)))
