"""Every path a user gives may be relative, and every place rlrt cannot use is a user error naming it:
``rlrt export`` / ``transform`` with relative paths, a job tree that is a file, ``SM_NUM_CPUS=abc``, a
``TMPDIR`` too long for Ray's sockets."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO_ROOT, make_job_tree, run_rlrt
from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401 - fixtures


def test_export_and_transform_take_relative_paths(tmp_path: Path, cartpole_model: Path) -> None:
    shutil.copytree(cartpole_model / "model", tmp_path / "jobs" / "model")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "states.csv").write_text("0.01,0.02,0.03,0.04\n")
    env = {"PYTHONPATH": str(REPO_ROOT)}
    done = run_rlrt(["export", "--model-dir", "jobs/model"], cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr[-3000:]  # before: ArrowInvalid: URI has empty scheme
    done = run_rlrt(["transform", "--model", "jobs/model", "--input", "in", "--output", "out"], cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "states.csv.out").is_file()


def test_a_job_tree_that_is_a_file_is_named(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.write_text("not a folder")
    done = run_rlrt(["train", "--base-dir", str(tree)], timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"The job tree {tree} is a file, not a folder" in done.stderr and "Framework error" not in done.stderr


def test_a_cpu_count_that_is_no_number_names_the_variable(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml")
    done = run_rlrt(["train"], base=tree.base, timeout=60, SM_NUM_CPUS="abc")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "The environment variable SM_NUM_CPUS='abc' must be a whole number >= 0" in tree.failure.read_text()
    # More CPUs than this host has: refused before Ray starts (it spawned workers for minutes without a line).
    done = run_rlrt(["train"], base=tree.base, timeout=60, SM_NUM_CPUS="1000000")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "SM_NUM_CPUS=1000000 asks for more CPUs than this host has" in tree.failure.read_text()


def test_a_tmpdir_too_long_for_rays_sockets_is_named(tmp_path: Path) -> None:
    """Ray puts its sockets under ``RAY_TMPDIR`` (the tests' own, short) or else ``TMPDIR``: both are checked."""
    long = tmp_path / ("t" * max(10, 110 - len(str(tmp_path))))
    long.mkdir()
    tree = make_job_tree(tmp_path / "ml", {"rl.training.stop.training_iteration": 1})
    for variable, extra in (("RAY_TMPDIR", {"RAY_TMPDIR": str(long)}), ("TMPDIR", {"TMPDIR": str(long)})):
        env = dict(extra)
        if variable == "TMPDIR":  # without the tests' short RAY_TMPDIR, Ray takes TMPDIR's
            env["RAY_TMPDIR"] = ""
        done = run_rlrt(["train"], base=tree.base, timeout=120, **env)
        assert done.returncode == 2, done.stderr[-2000:]
        failure = tree.failure.read_text()
        assert f"{variable}={long} ({len(str(long))} characters) is too long for Ray's sockets" in failure
        assert "Set RAY_TMPDIR to a short folder" in failure


def test_a_checkpoints_disk_without_room_is_named_before_training(tmp_path: Path) -> None:
    """``checkpoints/`` on a 2 MB disk (a tmpfs mounted there): exit 2 at start naming the folder and its free space
    (before: trained until the first checkpoint, then `OSError: No space left on device`)."""
    import subprocess

    import pytest

    tree = make_job_tree(tmp_path / "ml", {"rl.training.stop.training_iteration": 1})
    tree.checkpoints.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(tree.checkpoints)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or mounted.returncode})")
    try:
        done = run_rlrt(["train"], base=tree.base, timeout=120)
    finally:
        subprocess.run(["umount", str(tree.checkpoints)], check=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"The checkpoints folder {tree.checkpoints} has 2.0 MB free" in tree.failure.read_text()
    assert "training_iteration" not in done.stdout


def test_a_rerun_names_the_file_that_keeps_an_earlier_typo(tmp_path: Path) -> None:
    """the first run's --set values are kept in the tree's hyperparameters.json (a rerun resumes the same
    job); a rerun that fixed the typo on its command line is told which file still holds it."""
    base = tmp_path / "job"
    first = run_rlrt(["train", "--base-dir", str(base), "--set", "rl.training.config.lrr=0.001"], timeout=120)
    assert first.returncode == 2 and "rl.training.config.lrr" in first.stderr
    again = run_rlrt(["train", "--base-dir", str(base), "--set", "rl.training.config.lr=0.001"], timeout=120)
    assert again.returncode == 2, again.stderr[-2000:]
    failure = (base / "output" / "failure").read_text()
    assert (
        f"rl.training.config.lrr is set in {base / 'input' / 'config' / 'hyperparameters.json'}, not on this "
        "command line"
    ) in failure


def test_a_typo_is_named_before_ray_or_rllib_start(tmp_path: Path) -> None:
    """an unknown configuration key is found from the stored RLlib keys before RLlib is imported or Ray
    started (bench/typo.py measures the seconds)."""
    done = run_rlrt(
        ["train", "--base-dir", str(tmp_path / "job"), "--set", "rl.training.config.lrr=1"],
        timeout=60,
        RLRT_TIMINGS="1",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert (
        "Invalid hyperparameter: Unknown PPO configuration key 'rl.training.config.lrr'. Did you mean "
        "'rl.training.config.lr'?"
    ) in (tmp_path / "job" / "output" / "failure").read_text()
    assert "Started a local Ray instance" not in done.stderr and "rlrt-timing: spec" not in done.stderr
