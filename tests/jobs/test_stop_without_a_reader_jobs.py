"""A stop signal never depends on stdout: Ctrl-C to the process group of ``rlrt train | tee log`` (tee dies with
it, rlrt's next line meets EPIPE), of ``rlrt train | head -5`` (the reader left long before), and a terminal closed
under the job (EIO on every write, then SIGHUP) each end with the checkpoint kept, a ``model/`` that verifies and
serves, the reason in ``output/failure`` and the signal's exit code."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.train.manifest import verify_manifest
from tests.conftest import REPO_ROOT, rlrt_env

ARGS = [
    "train",
    "--set",
    "rl.training.stop.training_iteration=1000",
    "--set",
    "rl.training.stop.episode_reward_mean=100000",
    "--set",
    "record_video_every=0",
    "--set",
    "rl.training.config.train_batch_size_per_learner=512",
]


def _rlrt(base: Path) -> str:
    return " ".join([sys.executable, "-m", "runtime.cli", *ARGS, "--base-dir", str(base)])


def _wait_for(condition, what: str, proc: subprocess.Popen, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert condition(), f"no {what}"


def _progress_rows(base: Path) -> int:
    progress = base / "output" / "intermediate" / "progress.csv"
    return max(0, len(progress.read_text().splitlines()) - 1) if progress.exists() else 0


def _kept(base: Path, signal_name: str) -> None:
    assert [p.name for p in (base / "checkpoints").iterdir() if p.name.startswith("checkpoint_")]
    assert verify_manifest(base / "model").status == "intact"
    assert (base / "model" / "policy.onnx").is_file()
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith(f"Stopped by {signal_name} during training."), failure


@pytest.mark.parametrize("reader", ["tee {log}", "head -5"])
def test_ctrl_c_to_a_pipeline_keeps_the_save(tmp_path: Path, reader: str) -> None:
    base, log, rc = tmp_path / "job", tmp_path / "log", tmp_path / "rc"
    # `trap : INT` (a handler, not an ignore, so the pipeline's commands get the default action back) lets the
    # shell outlive the Ctrl-C and write rlrt's own exit status.
    script = f"trap : INT; {_rlrt(base)} 2>&1 | {reader.format(log=log)} > /dev/null; echo ${{PIPESTATUS[0]}} > {rc}"
    shell = subprocess.Popen(["bash", "-c", script], cwd=REPO_ROOT, env=rlrt_env(None), start_new_session=True)
    try:
        _wait_for(lambda: _progress_rows(base) >= 2, "second iteration", shell)
        os.killpg(shell.pid, signal.SIGINT)
        shell.wait(timeout=200)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
    assert rc.read_text().strip() == "130"
    _kept(base, "SIGINT")


def _close_the_terminal(argv: list[str], env: dict[str, str], cwd: Path, until: tuple[bytes, ...]) -> int:
    """Run ``argv`` in a terminal (a pty), close the terminal once its output shows one of ``until``; returns the exit
    code."""
    master, slave = pty.openpty()
    # The job's own session with the pty as its controlling terminal, as a terminal window's shell runs it.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys; os.setsid(); os.close(os.open(os.ttyname(0), "
            "os.O_RDWR)); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
            *argv,
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 300
        while not any(s in seen for s in until) and time.monotonic() < deadline and proc.poll() is None:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
        assert any(s in seen for s in until), seen[-3000:]
        os.close(master)  # the window closes: the kernel hangs up the session (SIGHUP), writes fail with EIO
        return proc.wait(timeout=200)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_terminal_closed_under_the_job_keeps_the_save(tmp_path: Path) -> None:
    base = tmp_path / "job"
    # At a terminal the job shows one line per iteration ("iteration 2 | ..."), elsewhere the metric lines.
    code = _close_the_terminal(
        ["-m", "runtime.cli", *ARGS, "--base-dir", str(base)],
        rlrt_env(None),
        REPO_ROOT,
        (b"iteration 2 |", b"training_iteration: 2"),
    )
    assert code == 129
    _kept(base, "SIGHUP")


def test_a_terminal_closed_under_a_script_mode_container_lets_the_script_save(tmp_path: Path) -> None:
    """``docker run -it IMAGE train`` on a script-mode job, and the terminal closes: the container's own lines meet
    EIO and go on; the script (whose own writes fail too, so it saves without a word) is stopped with SIGTERM, as
    SageMaker stops it, and saves; the job ends with the script's exit 0."""
    from tests.jobs.test_script_stop_jobs import script_mode_tree

    script = (
        "import os, signal, sys, time\n"
        "def save(signum, frame):\n"
        "    time.sleep(1)\n"
        "    open(os.path.join(os.environ['SM_MODEL_DIR'], 'saved'), 'w').write(signal.Signals(signum).name)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, save)\n"
        "print('script: training', flush=True)\n"
        "while True:\n"
        "    time.sleep(0.1)\n"
    )
    tree, env = script_mode_tree(tmp_path, script)
    # The whole line: unbuffered, print writes the text and its newline apart, and a terminal closed between the two
    # fails the script's own print (a script that writes after its terminal closed dies of EIO in its own code).
    code = _close_the_terminal(
        [str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env,
        tmp_path,
        (b"script: training\r\n", b"script: training\n"),
    )
    assert code == 0, tree.failure.read_text() if tree.failure.exists() else "no output/failure"
    assert (tree.model / "saved").read_text() == "SIGTERM"
    assert not tree.failure.exists()
