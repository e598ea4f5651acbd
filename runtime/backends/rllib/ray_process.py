"""The Ray instance of one job: started in the background while the job checks its spec (:class:`EarlyRayStart`, an
explicit handle the session is given), or joined (``RAY_ADDRESS``), and stopped with what its processes leave.

Only the RLlib backend uses Ray in the driver; ``rlrt tune`` and the multi-host head (:mod:`runtime.cluster`) start
their own with ``ray.init`` / ``ray start``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

import psutil

from runtime.backends.rllib.quiet import quiet_ray_logs, quiet_ray_logs_and_gym
from runtime.backends.rllib.registry_guard import registry_guarded_while_starting
from runtime.cluster.node import host_and_port, port_open
from runtime.cluster.object_store import object_store_for_this_machine, ray_temp_root
from runtime.errors import UserError

log = logging.getLogger(__name__)

RAY_START_THREAD = "rlrt-ray-start"
"""The name of :class:`EarlyRayStart`'s thread (for a person reading a thread dump)."""
RAY_ADDRESS_PROBE_S = 5.0
"""How long :func:`init_ray` tries a TCP connection to ``RAY_ADDRESS``'s host:port before it calls the cluster
unreachable (Ray itself retries a silent address for ~10 minutes)."""


UNIX_SOCKET_PATH_MAX = 107
"""The longest AF_UNIX socket path Linux takes (Ray checks it too, after it has started half its processes)."""
RAY_SOCKET_SUFFIX = len("/ray/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store")
"""What Ray adds to its temporary folder for its longest socket path (a session named by time and a pid)."""


def check_ray_temp_dir() -> None:
    """A :class:`UserError` when Ray's temporary folder (``RAY_TMPDIR``, else ``TMPDIR``'s) is too long for the
    sockets Ray makes under it, naming the variable and a way out."""
    variable = "RAY_TMPDIR" if os.environ.get("RAY_TMPDIR") else "TMPDIR"
    folder = ray_temp_root()
    if len(folder) + RAY_SOCKET_SUFFIX > UNIX_SOCKET_PATH_MAX:
        raise UserError(f"{variable}={folder} ({len(folder)} characters) is too long for Ray's sockets: Ray makes "
                        f"them under <{variable}>/ray/session_.../sockets/, and a socket path may have at most "
                        f"{UNIX_SOCKET_PATH_MAX} bytes. Set RAY_TMPDIR to a short folder (e.g. RAY_TMPDIR=/tmp/rlrt-ray) "
                        f"or use a shorter {variable} (at most {UNIX_SOCKET_PATH_MAX - RAY_SOCKET_SUFFIX} characters).")


class EarlyRayStart:
    """Ray starting in a background thread, so that its processes start while the job imports RLlib and checks its
    spec; the session it is handed to (:class:`runtime.contracts.BackendContext` ``early_start``) waits for it.

    The thread stays until Ray is shut down: Ray ties its processes to the life of the thread that started them
    (``PR_SET_PDEATHSIG`` follows the thread, not the process), so a thread that ended would take them along.
    """

    def __init__(self, num_cpus: int, num_gpus: int) -> None:
        grpc_without_fork_handlers()  # here: the main thread may start gRPC (a Unity game's server) before init_ray
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(num_cpus, num_gpus), name=RAY_START_THREAD,
                                       daemon=True)
        self.thread.start()

    def _run(self, num_cpus: int, num_gpus: int) -> None:
        _import_what_main_imports_under_the_import_lock()
        import ray  # heavy: Ray (~1 s), imported in this thread while the main thread imports RLlib

        try:
            with registry_guarded_while_starting():  # the main thread registers envs and RLlib's algorithms
                init_ray(num_cpus, num_gpus)
        except Exception:  # noqa: BLE001 - the session's own init_ray starts Ray again and reports the error
            log.debug("early Ray start failed", exc_info=True)
        finally:
            self.ready.set()
        while ray.is_initialized():
            time.sleep(0.2)

    def wait(self) -> None:
        """Until Ray has started (or failed to): before anything touches Ray (registering an environment would
        otherwise start a second instance)."""
        self.ready.wait()

    def cancel(self) -> None:
        """The job does not train with RLlib after all (or its spec was rejected): stop what was started."""
        self.ready.wait()
        shutdown_ray(self)
        self.thread.join()


def _import_what_main_imports_under_the_import_lock() -> None:
    """Import, before this thread forks, what the main thread would otherwise import while holding Python's global
    import lock.

    Ray starts its processes with a ``preexec_fn``, so each fork takes the fork hooks' locks (``logging``'s module
    lock) and then the global import lock. Python holds that lock while a meta-path finder runs, and setuptools'
    ``distutils`` shim (``_distutils_hack``, installed by a ``.pth`` file) imports all of setuptools from its finder,
    which calls ``logging.getLogger``. A first ``import distutils`` in the main thread (``mlagents_envs`` does one,
    as a Unity job builds its env) during one of Ray's forks deadlocked the job: each thread held the lock the other
    waited for, and the job printed nothing until it was killed (CI, stop 31). Once ``distutils`` is imported, the
    finder is never asked again.
    """
    try:
        import distutils  # noqa: F401  # heavy: setuptools' distutils shim (~0.07 s), only to have it imported
    except ImportError:  # no setuptools on Python >= 3.12: no shim, no finder that imports
        pass


def grpc_without_fork_handlers() -> None:
    """gRPC's fork handlers off for this process and the Ray processes it starts (``GRPC_ENABLE_FORK_SUPPORT``,
    unless the user set it).

    With them on, every fork while another thread is inside gRPC (Ray forks its processes while a Unity game's gRPC
    server runs in the job) prints ``fork_posix.cc ... Other threads are currently calling into gRPC, skipping fork()
    handlers``, a line nobody can act on, and a busy gRPC thread pool can make a fork wait ("Waiting for thread pool
    to idle before forking", ray-project/ray#31729). They only matter to a child that goes on using gRPC without
    ``exec``: every child a job forks (Ray's processes, a Unity player) runs another program at once.
    """
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


def init_ray(num_cpus: int, num_gpus: int, early: EarlyRayStart | None = None) -> None:
    """Start a local Ray instance sized to the job's machine (or join ``RAY_ADDRESS`` when set); with ``early`` (an
    :class:`EarlyRayStart` under way) wait for it instead."""
    import ray  # heavy: Ray

    quiet_ray_logs()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    grpc_without_fork_handlers()
    if early is not None:
        early.wait()
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        _join_ray(os.environ["RAY_ADDRESS"])
    else:
        check_ray_temp_dir()
        # "local": always a fresh instance, never a cluster someone else started on this machine with `ray start`.
        # Its processes are this job's own, so Ray's token authentication guards nothing (a multi-host cluster turns
        # it on with RLRT_RAY_AUTH_TOKEN, runtime.cluster.node).
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        # Ray prestarts an idle worker per CPU for the first driver: a driver that samples itself needs none, and
        # env-runner actors start their own. ~1.2 CPU-seconds less per job on 2 cores (bench/RESULTS.md, issue 12).
        os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=True,
                 runtime_env={"worker_process_setup_hook": _setup_hook()},
                 **object_store_for_this_machine())


def _setup_hook() -> str:
    """The job's Ray workers' ``worker_process_setup_hook``: the Ray lines that do not apply dropped, and when the
    job's own code has imported the old ``gym`` (a launcher script; its notice was printed once here), ``gym``
    imported without it (:mod:`runtime.backends.rllib.quiet`)."""
    hook = quiet_ray_logs_and_gym if "gym" in sys.modules else quiet_ray_logs
    return f"{hook.__module__}.{hook.__name__}"


def _join_ray(address: str) -> None:
    """Join the Ray cluster at ``address`` (``RAY_ADDRESS``); a cluster that is not there is a UserError at once."""
    import ray  # heavy: Ray

    advice = ("Unset RAY_ADDRESS to let the job start its own Ray instance, or start that cluster first "
              "(`ray start --head`).")
    try:
        target = host_and_port(address)  # None for "auto", "local", ray:// URLs: Ray's to resolve
    except UserError as exc:
        raise UserError(f"RAY_ADDRESS={exc} {advice}") from exc
    if target is not None and not port_open(*target, timeout_s=RAY_ADDRESS_PROBE_S):
        raise UserError(f"RAY_ADDRESS={address} names a Ray cluster that does not answer: no TCP connection to "
                        f"{address} within {RAY_ADDRESS_PROBE_S:g} s. {advice}")
    try:
        ray.init(address=address, log_to_driver=True)
    except (ConnectionError, ValueError) as exc:  # ValueError: an address Ray cannot parse ("host:x")
        raise UserError(f"RAY_ADDRESS={address}: Ray could not join that cluster ({exc}). {advice}") from exc


def shutdown_ray(early: EarlyRayStart | None = None) -> None:
    """Shut Ray down and end what its stopped processes leave behind.

    A Ray that ``early`` (an :class:`EarlyRayStart`) started ends with its thread: the GCS and raylet get SIGKILL
    (the thread's ``PR_SET_PDEATHSIG``), and the raylet's own children, its dashboard and runtime-env agents and idle
    workers, are left: the agents notice within ~2 s, then try for about a minute to report to the dead GCS before
    they exit (SIGTERM does not shorten that). So this waits for that thread, then kills every process below a child
    of this one that has ended; other children (and a cluster this process only joined) are left alone.
    """
    import ray  # heavy: Ray

    trees = []
    for child in psutil.Process().children():
        try:
            trees.append((child, child.children(recursive=True)))
        except psutil.Error:
            continue
    ray.shutdown()
    if early is not None and early.thread is not threading.current_thread():
        early.thread.join(timeout=5)  # its end ends the processes it started (see EarlyRayStart)
    orphans = [proc for child, below in trees if _ended(child) for proc in below if not _ended(proc)]
    for proc in orphans:
        try:
            proc.kill()
        except psutil.Error:
            pass
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not all(_ended(proc) for proc in orphans):
        time.sleep(0.02)


def _ended(proc: Any) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True
