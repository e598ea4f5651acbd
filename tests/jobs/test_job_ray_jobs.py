"""The job's own Ray (``runtime.backends.rllib.ray_process.LocalRay``: ``ray start --head`` as a child process):
a job killed outright leaves no Ray process behind, and no address file where a plain ``ray.init()`` would find it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.conftest import make_job_tree, session_processes, start_rlrt
from tests.jobs.test_train import progress_rows


def test_a_killed_job_leaves_no_ray_process_and_no_address_file(tmp_path: Path) -> None:
    # Other tests of the session (rlrt tune's own Ray) may have left Ray's shared address file: only this job's
    # writing it counts.
    address_file = Path(os.environ["RAY_TMPDIR"]) / "ray" / "ray_current_cluster"
    before = address_file.stat().st_mtime_ns if address_file.exists() else None
    tree = make_job_tree(
        tmp_path / "ml", {"rl.training.stop.training_iteration": 10000, "rl.training.stop.episode_reward_mean": 100000}
    )
    proc = start_rlrt(["train"], base=tree.base, log=tmp_path / "job.log")
    try:
        deadline = time.monotonic() + 240
        while not progress_rows(tree.base) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert progress_rows(tree.base), (tmp_path / "job.log").read_text()[-3000:]
        assert any("raylet" in " ".join(p.cmdline()) for p in session_processes(tree.base))  # Ray is running
        proc.send_signal(signal.SIGKILL)  # no handler, no finally: only the kernel's PR_SET_PDEATHSIG is left
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 30
    while session_processes(tree.base) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = session_processes(tree.base)
    assert not left, [" ".join(p.cmdline()[:3]) for p in left]
    # Ray's own address file (a plain ray.init() joins the cluster it names) is never written where others look.
    after = address_file.stat().st_mtime_ns if address_file.exists() else None
    assert after == before, "the job wrote Ray's shared address file"
