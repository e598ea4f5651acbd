"""A script-mode job stopped while the user's entry point runs (runtime/job/script_stop.py): the container (the
image's entry point) passes the stop on to the script once and waits, within a bounded grace period, for it to save
and exit, then ends with the script's outcome. The scripts here train nothing: they save for a second on a signal,
as a launcher script saves its checkpoint."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from runtime.job.script_stop import GRACE_ENV
from tests.conftest import REPO_ROOT, JobTree, make_job_tree, rlrt_env
from tests.jobs.test_sagemaker_rl_jobs import source_archive

SAVING = """
import os, signal, sys, time
received = []
def save(signum, frame):
    received.append(signal.Signals(signum).name)
    if len(received) == 1:
        print("script: saving", flush=True)
        time.sleep(1.5)
        os.makedirs(os.environ["SM_MODEL_DIR"], exist_ok=True)
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "saved"), "w") as f:
            f.write(" ".join(received))
        sys.exit(0)
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, save)
print("script: training", flush=True)
while True:
    time.sleep(0.1)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("script: training", flush=True)
while True:
    time.sleep(0.1)
"""


def script_mode_tree(tmp_path: Path, script: str) -> tuple[JobTree, dict[str, str]]:
    """A job tree whose entry point ``train-job.py`` is ``script`` (its ``model/`` made), and the environment the
    image's ``train`` runs it under."""
    archive = source_archive(tmp_path / "upload", {"train-job.py": script})
    host = socket.gethostname()  # sagemaker-training resolves the host names
    tree = make_job_tree(
        tmp_path / "ml",
        {"sagemaker_program": "train-job.py", "sagemaker_submit_directory": str(archive)},
        hosts=[host],
        current_host=host,
    )
    tree.model.mkdir(parents=True, exist_ok=True)
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return tree, env


def _stop_script(
    tmp_path: Path, script: str, signum: int, to_group: bool, **extra: str
) -> tuple[int, str, float, JobTree]:
    """Run the image's ``train`` on ``script``, send ``signum`` (to the container's process group, as Ctrl-C and
    ``kill -- -PGID`` do, or to the container alone, as ``docker stop`` does) once the script runs; returns the exit
    code, the log, the seconds from the signal to the exit and the tree."""
    tree, env = script_mode_tree(tmp_path, script)
    env.update(extra)
    log = tmp_path / "job.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "script: training" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, log.read_text()[-3000:]
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        sent = time.monotonic()
        code = proc.wait(timeout=60)
        return code, log.read_text(), time.monotonic() - sent, tree
    finally:
        # The script runs in a process group of its own: every process of the container's session goes.
        for process in psutil.process_iter(["pid"]):
            with contextlib.suppress(OSError, psutil.Error):
                if process.pid != os.getpid() and os.getsid(process.pid) == proc.pid:
                    process.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("signum", "to_group", "passed"),
    [
        (signal.SIGTERM, True, "SIGTERM"),  # `kill -- -PGID`: the script gets it once, sagemaker-training lives on
        (signal.SIGINT, True, "SIGINT"),  # Ctrl-C under `docker run -it`
        (signal.SIGHUP, False, "SIGTERM"),  # the terminal closed: stopped as SageMaker stops it
    ],
    ids=["SIGTERM to the group", "Ctrl-C", "SIGHUP"],
)
def test_a_stopped_script_is_waited_for_while_it_saves(
    tmp_path: Path, signum: int, to_group: bool, passed: str
) -> None:
    code, log, took, tree = _stop_script(tmp_path, SAVING, signum, to_group)
    name = signal.Signals(signum).name
    assert code == 0, log[-3000:]  # the script saved and exited 0: its outcome is the job's
    assert (tree.model / "saved").read_text() == passed, log[-3000:]  # once, not once per process in the group
    assert f"rlrt: {name} received: passed on to the entry point train-job.py as {passed}; waiting up to 100 s" in log
    assert "rlrt: train-job.py exited 0 " in log and f" s after {name}: the job ends as the script ended it" in log
    assert took >= 1.5 and not tree.failure.exists(), log[-3000:]


def test_a_script_that_does_not_exit_within_the_grace_period_is_killed_and_the_job_says_so(tmp_path: Path) -> None:
    code, log, took, tree = _stop_script(tmp_path, STUBBORN, signal.SIGTERM, False, **{GRACE_ENV: "2"})
    assert code == 143 and 2 <= took < 30, log[-3000:]
    assert "rlrt: train-job.py did not exit within 2 s of SIGTERM: stopping it (SIGKILL)" in log
    failure = tree.failure.read_text()
    assert failure.startswith(
        "Stopped by SIGTERM: the entry point train-job.py did not exit within 2 s of it and "
        "was killed; what it had not saved is lost."
    ), failure
    assert f"rlrt: {failure[0].lower()}{failure[1:].strip()}" in log
