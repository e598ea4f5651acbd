"""The wheel: built from the repository, installed (not editable) into a fresh virtual environment, it lists the
presets and trains CartPole from an empty folder, with no copy of the repository in sight."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TEST_ENV

IGNORED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "rlrt-jobs", ".pytest_cache")


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without the test session's PYTHONPATH (which names the repository)."""
    env = {**os.environ, **{k: v for k, v in TEST_ENV.items() if k != "PYTHONPATH"}, "SM_NUM_CPUS": "2", **extra}
    for name in ("PYTHONPATH", "SAGEMAKER_BASE_DIR", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_trains_from_an_empty_folder(tmp_path: Path) -> None:
    env = _clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1")
    # Build from a copy of the source, so the build leaves nothing (build/, *.egg-info) in the repository.
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=IGNORED)
    wheels = tmp_path / "wheels"
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
        cwd=source,
        env=env,
    )
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-5000:]
    assert "would be ignored" not in log, [line for line in log.splitlines() if "would be ignored" in line]
    assert "is absent from the `packages` configuration" not in log, log[-5000:]
    (wheel,) = wheels.glob("rlrt-*.whl")
    # Every module and preset is in the wheel (setuptools silently leaves out a package setup.cfg does not name).
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    expected = {
        str(p.relative_to(source))
        for tree in ("runtime", "envs", "sagemaker_rl")
        for p in (source / tree).rglob("*.py")
    }
    expected |= {str(p.relative_to(source)) for p in (source / "sagemaker_rl").glob("*.yaml")}
    expected |= {f"runtime/presets/{p.name}" for p in (source / "presets").glob("*.yaml")}
    assert not expected - shipped, f"missing from the wheel: {sorted(expected - shipped)}"

    # A fresh venv from the same base interpreter; the lock's dependencies come from the test's own venv through a
    # .pth path line (a plain path: that folder's own .pth files, such as the editable install's, are not run).
    venv = tmp_path / "venv"
    base_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    made = _run([str(base_python), "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path, env=env
        ).stdout.strip()
    )
    (site / "rlrt-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([str(python), "-m", "pip", "install", "--no-deps", str(wheel)], cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(
        [str(python), "-c", "import runtime, envs; print(runtime.__file__); print(envs.__file__)"], cwd=empty, env=env
    )
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(site.resolve()), f"imported from {line}, not the wheel in {site}"
        assert not Path(line).resolve().is_relative_to(REPO_ROOT), line

    # The data files the package reads: presets, and RLlib's and d3rlpy's configuration keys (the quick typo check).
    assert (site / "runtime" / "backends" / "rllib" / "config_keys.json").is_file()
    assert (site / "runtime" / "backends" / "d3rlpy" / "config_keys.json").is_file()
    rlrt = str(venv / "bin" / "rlrt")
    presets = _run([rlrt, "presets"], cwd=empty, env=env)
    assert presets.returncode == 0, presets.stderr
    assert "cartpole-ppo" in presets.stdout

    job = tmp_path / "job"
    train = _run(
        [
            rlrt,
            "train",
            "--preset",
            "cartpole-ppo",
            "--set",
            "rl.training.stop.training_iteration=1",
            "--base-dir",
            str(job),
        ],
        cwd=empty,
        env=env,
        timeout=600,
    )
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-5000:]
    assert (job / "model" / "metadata.json").is_file()
    assert not any(empty.iterdir()), f"the job wrote into the working folder: {list(empty.iterdir())}"
