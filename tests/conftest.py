"""Shared fixtures: a temporary /opt/ml tree per test, running ``rlrt`` as a real process, and a check that the
suite leaves nothing running (no Ray processes, no servers)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Every process this test session starts (and every Ray process those start) inherits this marker, so the
# leftover check below only ever looks at (and kills) processes of this session, never another run's.
SESSION_MARKER = "RLRT_TEST_SESSION"
SESSION_ID = os.environ.setdefault(SESSION_MARKER, uuid.uuid4().hex)
if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest-xdist (`-n 2`): each worker checks its own processes only
    SESSION_ID = os.environ[SESSION_MARKER] = f"{SESSION_ID.split(':')[0]}:{os.environ['PYTEST_XDIST_WORKER']}"

# Ray prints a warning per run without these; tests want quiet, local, dashboard-less Ray.
TEST_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": str(REPO_ROOT),
}


@dataclass
class JobTree:
    """A temporary ``/opt/ml`` tree."""

    base: Path

    @property
    def model(self) -> Path:
        return self.base / "model"

    @property
    def checkpoints(self) -> Path:
        return self.base / "checkpoints"

    @property
    def intermediate(self) -> Path:
        return self.base / "output" / "intermediate"

    @property
    def failure(self) -> Path:
        return self.base / "output" / "failure"

    def channel(self, name: str) -> Path:
        path = self.base / "input" / "data" / name
        path.mkdir(parents=True, exist_ok=True)
        config = self.base / "input" / "config" / "inputdataconfig.json"
        data = json.loads(config.read_text()) if config.exists() else {}
        data[name] = {"TrainingInputMode": "File"}
        config.write_text(json.dumps(data))
        return path

    def write_hyperparameters(self, hyperparameters: Mapping[str, Any]) -> None:
        """Write hyperparameters exactly as SageMaker does: every value a JSON-encoded string."""
        encoded = {k: json.dumps(v) for k, v in hyperparameters.items()}
        (self.base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(encoded))


def make_job_tree(
    base: Path,
    hyperparameters: Mapping[str, Any] | None = None,
    hosts: Sequence[str] = ("algo-1",),
    current_host: str = "algo-1",
) -> JobTree:
    """Create an ``/opt/ml`` tree under ``base`` as SageMaker lays it out for a training job."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (base / "input" / "data").mkdir(parents=True, exist_ok=True)
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": current_host, "hosts": list(hosts)}))
    (config / "inputdataconfig.json").write_text("{}")
    tree = JobTree(base)
    tree.write_hyperparameters(hyperparameters or {})
    return tree


@pytest.fixture
def job_tree(tmp_path: Path) -> JobTree:
    """An empty SageMaker job tree (no hyperparameters) in a temporary folder."""
    return make_job_tree(tmp_path / "opt" / "ml")


def rlrt_env(base: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment a test runs ``rlrt`` under (SAGEMAKER_BASE_DIR pointing at ``base`` when given)."""
    env = {**os.environ, **TEST_ENV, "SM_NUM_CPUS": "2", **extra}
    if base is not None:
        env["SAGEMAKER_BASE_DIR"] = str(base)
    elif "SAGEMAKER_BASE_DIR" not in extra:  # not the caller's own (rlrt_env(None, SAGEMAKER_BASE_DIR=...))
        env.pop("SAGEMAKER_BASE_DIR", None)
    if env.get("SAGEMAKER_BASE_DIR"):
        TREES_USED.add(Path(env["SAGEMAKER_BASE_DIR"]))
    return env


TREES_USED: set[Path] = set()
"""The job trees (SAGEMAKER_BASE_DIR) the running test gave ``rlrt``: scanned after it for framework errors."""
FRAMEWORK_ERROR = "Framework error"


def failure_files(folder: Path) -> list[Path]:
    """Every ``output/failure`` in ``folder`` and below (a job tree, or a test's temporary folder of many)."""
    if not folder.is_dir():
        return []
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in ("checkpoints", "model", "data", "code")]  # no failure file there
        if "failure" in files and os.path.basename(parent) == "output":
            found.append(Path(parent) / "failure")
    return found


@pytest.fixture(autouse=True)
def no_framework_error_reaches_a_user(request: pytest.FixtureRequest) -> Any:
    """Fail a test after which a failure file of its trees (its ``tmp_path``, the SAGEMAKER_BASE_DIR it gave
    ``rlrt``) says "Framework error": every failure a user can cause must end in a sentence of theirs. A test that
    injects a bug on purpose says so with ``@pytest.mark.injects_bug``."""
    TREES_USED.clear()
    own = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if request.node.get_closest_marker("injects_bug"):
        return
    folders = set(TREES_USED) | ({own} if own else set())
    offenders = []
    for folder in folders:
        for path in failure_files(folder):
            try:
                text = path.read_text(errors="replace")
            except OSError:  # made unreadable by the test itself (a permission fault)
                continue
            if FRAMEWORK_ERROR in text:
                offenders.append(f"{path}: {text.strip()[:300]}")
    assert not offenders, (
        "a framework error reached a failure file (a user's input must end in a sentence; a test "
        "that injects a bug on purpose is marked injects_bug):\n" + "\n".join(offenders)
    )


def run_rlrt(
    args: Sequence[str], base: Path | None = None, cwd: Path | None = None, timeout: float = 300, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m runtime.cli ARGS`` as a real process and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=str(cwd or REPO_ROOT),
        env=rlrt_env(base, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_rlrt(
    args: Sequence[str], base: Path | None = None, log: Path | None = None, **extra: str
) -> subprocess.Popen:
    """Start ``python -m runtime.cli ARGS`` in the background (stdout and stderr to ``log``)."""
    handle = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=str(REPO_ROOT),
        env=rlrt_env(base, **extra),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def session_processes(base: Path | None = None) -> list[psutil.Process]:
    """Processes started by this test session (they carry its marker), other than pytest itself; with ``base``, only
    those of the job whose tree is there (they carry its SAGEMAKER_BASE_DIR: Ray's processes and agents, players)."""
    mine = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            environ = proc.environ()
            if (
                environ.get(SESSION_MARKER) == SESSION_ID
                and proc.status() != psutil.STATUS_ZOMBIE
                and (base is None or environ.get("SAGEMAKER_BASE_DIR") == str(base))
            ):
                mine.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return mine


@pytest.fixture(autouse=True)
def no_stop_signal_left() -> Any:
    """A test that signals this process (a job's phases run in-process) leaves the signal noted in
    ``runtime.stop_signals.STOPS``; it is forgotten after the test, so that a later in-process phase does not stop."""
    from runtime.stop_signals import STOPS

    yield
    if not STOPS.active:
        STOPS.clear()


@pytest.fixture(autouse=True)
def no_era_adaptations_left() -> Any:
    """A test that runs a user's script or env creator in this process gives NumPy 1's names to ``numpy``, bridges
    two of gym's refusals and sets ``RLRT_ERA_COMPAT`` (as a job's process does for its Ray workers): all are undone
    after it, so that a later test sees the pinned NumPy and gym, and a job it starts does not inherit the marker and
    take itself for an env runner."""
    import numpy

    from sagemaker_rl.compat import era

    marker = os.environ.get(era.MARKER)
    missing = [name for name in era.NUMPY1_NAMES if name not in vars(numpy)]
    box, registration = sys.modules.get("gym.spaces.box"), sys.modules.get("gym.envs.registration")
    gym_parts = (box.get_inf, registration.EnvSpec.__init__) if box and registration else None
    yield
    if marker is None:
        os.environ.pop(era.MARKER, None)
    for name in missing:
        if name in vars(numpy):
            delattr(numpy, name)
    # gym's two bridged refusals (era.adapt_gym), as they were before the test (gym imported by it: as gym made them).
    box, registration = sys.modules.get("gym.spaces.box"), sys.modules.get("gym.envs.registration")
    if box is not None and registration is not None:
        if gym_parts is None:
            box.get_inf = getattr(box.get_inf, "original", box.get_inf)
            init = registration.EnvSpec.__init__
            registration.EnvSpec.__init__ = getattr(init, "__wrapped__", init)
        else:
            box.get_inf, registration.EnvSpec.__init__ = gym_parts
    seeding = sys.modules.get("gym.utils.seeding")  # gym 0.21's seeding functions, given back to gym 0.26's
    for name, given in era.SEEDING_FUNCTIONS.items():
        if getattr(seeding, name, None) is given:
            delattr(seeding, name)


def pytest_configure(config: pytest.Config) -> None:
    """A suite started under ``nohup`` (or by anything else that ignores SIGHUP) would pass that on to every job it
    runs, and rlrt leaves an ignored SIGHUP alone, as ``nohup`` asks: the closed-terminal tests would fail for the
    launch, not for rlrt. The jobs get SIGHUP's default back; a test of ``nohup`` ignores it in its own process."""
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running() -> Any:
    """Fail the session if tests leave processes behind (Ray, servers, players); they are killed either way.

    Ray's session folders (logs, sockets; Ray never removes them) go to a temporary ``RAY_TMPDIR`` of this session,
    removed at the end, instead of piling up in /tmp/ray.
    """
    ray_tmp = None
    if "RAY_TMPDIR" not in os.environ:
        ray_tmp = tempfile.mkdtemp(prefix="rlrt-ray-", dir="/tmp")  # short: Ray's socket paths live under it
        os.environ["RAY_TMPDIR"] = ray_tmp
    yield
    deadline = time.monotonic() + 20
    leftovers: list[psutil.Process] = []
    while time.monotonic() < deadline:
        leftovers = session_processes()
        if not leftovers:
            break
        time.sleep(0.5)
    for proc in leftovers:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    if ray_tmp is not None:
        os.environ.pop("RAY_TMPDIR", None)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not leftovers, "processes left running after the suite: " + ", ".join(
        f"{p.pid} {describe_process(p)}" for p in leftovers
    )


def describe_process(proc: psutil.Process) -> str:
    """The start of a process's command line, or '' once it has ended (a zombie has none to read)."""
    try:
        return " ".join(proc.cmdline()[:3])
    except psutil.Error:
        return ""
