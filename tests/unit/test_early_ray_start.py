"""Ray's early start (:class:`runtime.backends.rllib.ray_process.EarlyRayStart`) runs in a thread that forks Ray's
processes while the main thread goes on importing. A first ``import distutils`` in the main thread (setuptools'
shim imports all of setuptools under Python's global import lock) during one of those forks deadlocked Unity jobs in
CI; the start thread now imports it before its first fork. gRPC's fork handlers are off from the thread's start:
each fork with a gRPC thread busy printed a line nobody could act on."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import rlrt_env

PROBE = textwrap.dedent("""
    import os
    import sys

    from runtime.backends.rllib import ray_process

    before = "distutils" in sys.modules
    seen = []
    ray_process.init_ray = lambda *args, **kwargs: seen.append("distutils" in sys.modules)
    start = ray_process.EarlyRayStart(1, 0)
    grpc_fork = os.environ.get("GRPC_ENABLE_FORK_SUPPORT")
    start.wait()
    start.thread.join(timeout=30)
    print(before, seen, grpc_fork)
""")


def test_the_start_thread_has_distutils_imported_before_ray_forks() -> None:
    env = rlrt_env()
    env.pop("GRPC_ENABLE_FORK_SUPPORT", None)
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    # Not imported by rlrt's own modules (then it would cost every job), imported by the thread before init_ray.
    # gRPC's fork handlers off from the start (Ray forks while a Unity game's gRPC server runs in the main thread).
    assert result.stdout.split() == ["False", "[True]", "false"], result.stdout + result.stderr[-3000:]
