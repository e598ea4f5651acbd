"""The Ray instance of one job: its own single-node Ray (:class:`LocalRay`: ``ray start --head`` as a child process,
started while the job imports RLlib and checks its spec, joined by the session), or a cluster it joins
(``RAY_ADDRESS``, a multi-host job's head); stopped when the job ends.

Only the RLlib backend uses Ray in the driver; ``rlrt tune`` and the multi-host head (:mod:`runtime.cluster`) start
their own with ``ray.init`` / ``ray start``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping

from runtime.backends.rllib.quiet import quiet_ray_logs, quiet_ray_logs_and_gym
from runtime.cluster.node import RayNode, free_ports, host_and_port, port_open
from runtime.cluster.object_store import ray_temp_root
from runtime.errors import UserError

RAY_ADDRESS_PROBE_S = 5.0
"""How long :func:`init_ray` tries a TCP connection to ``RAY_ADDRESS``'s host:port before it calls the cluster
unreachable (Ray itself retries a silent address for ~10 minutes)."""
LOCAL_RAY_START_S = 120.0
"""How long the job waits for its own Ray's GCS to listen (seconds; it takes 1-3 on a busy 2-core machine), and
after that how long it keeps trying again to join it (:meth:`LocalRay.connect`)."""
BUSY = (
    "That is this machine, not the job's settings: other programs keep its CPUs or memory busy (see `top`), or "
    "another Ray fills /dev/shm. Run the job again when they are done, or give it fewer CPUs (SM_NUM_CPUS)."
)
LOCAL_RAY_DIR_PREFIX = "rlrt-ray-"
"""The job's own Ray folder under Ray's temporary root (``tempfile.mkdtemp`` adds 8 characters)."""

UNIX_SOCKET_PATH_MAX = 107
"""The longest AF_UNIX socket path Linux takes (Ray checks it too, after it has started half its processes)."""
RAY_SOCKET_SUFFIX = len(
    f"/{LOCAL_RAY_DIR_PREFIX}12345678/session_2026-01-01_00-00-00_000000_4194304/sockets/plasma_store"
)
"""What the job's own Ray adds to the temporary root for its longest socket path (its folder, a session named by
time and a pid)."""


def check_ray_temp_dir() -> None:
    """A :class:`UserError` when Ray's temporary folder (``RAY_TMPDIR``, else ``TMPDIR``'s) is too long for the
    sockets Ray makes under it, naming the variable and a way out."""
    variable = "RAY_TMPDIR" if os.environ.get("RAY_TMPDIR") else "TMPDIR"
    folder = ray_temp_root()
    if len(folder) + RAY_SOCKET_SUFFIX > UNIX_SOCKET_PATH_MAX:
        raise UserError(
            f"{variable}={folder} ({len(folder)} characters) is too long for Ray's sockets: Ray makes "
            f"them under <{variable}>/{LOCAL_RAY_DIR_PREFIX}XXXXXXXX/session_.../sockets/, and a socket "
            f"path may have at most {UNIX_SOCKET_PATH_MAX} bytes. Set RAY_TMPDIR to a short folder (e.g. "
            f"RAY_TMPDIR=/tmp/rlrt-ray) or use a shorter {variable} (at most "
            f"{UNIX_SOCKET_PATH_MAX - RAY_SOCKET_SUFFIX} characters)."
        )


class LocalRay:
    """The job's own single-node Ray: ``ray start --head --block`` as a child process
    (:class:`runtime.cluster.node.RayNode`), started as soon as the job knows it trains with RLlib so that Ray's
    processes start while the main thread imports RLlib; the session joins it with ``ray.init(address=...)``
    (:meth:`connect`). It is the job's alone: its own temporary folder (and so its own ``ray_current_cluster``
    file: a plain ``ray.init()`` elsewhere on the machine never finds it) and its own port; :meth:`stop` kills its
    process group. If the job's process dies without stopping it, the kernel sends ``ray start`` SIGTERM and Ray
    stops its processes (``PR_SET_PDEATHSIG``, set by ``RayNode``).
    """

    def __init__(self, num_cpus: int, num_gpus: int) -> None:
        check_ray_temp_dir()
        self.folder = Path(tempfile.mkdtemp(prefix=LOCAL_RAY_DIR_PREFIX, dir=ray_temp_root()))
        # The node's dashboard agent gets a picked port too (RayNode), never the GCS port picked here.
        self.port = free_ports(1)[0]
        self.connected = False
        self.log = self.folder / "ray-start.log"
        # Its processes are this job's own, so Ray's token authentication guards nothing (a multi-host cluster turns
        # it on with RLRT_RAY_AUTH_TOKEN, runtime.cluster.node); and a driver that samples itself needs no idle worker
        # prestarted per CPU (env-runner actors start their own): ~1.2 CPU-seconds less per job on 2 cores
        # (bench/results/history.md). Both are read by the node's processes and by this one.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
        # Ray's workers stay in the node's process group (Ray gives each one its own by default), so that stop()
        # ends every one at once, a worker still starting up (importing torch, not yet watching the raylet) too.
        node_env = {**os.environ, "RAY_process_group_cleanup_enabled": "0"}
        with self.log.open("w") as log:
            self.node = RayNode(
                [
                    "--head",
                    f"--port={self.port}",
                    "--include-dashboard=false",
                    f"--num-cpus={num_cpus}",
                    f"--num-gpus={num_gpus}",
                ],
                env=node_env,
                temp_dir=str(self.folder),
                output=log,
                lean=True,
            )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connect(self, variables: Mapping[str, str] | None = None) -> None:
        """Wait until the node listens, then join it from this process (``ray.init``; Tune's registry, filled
        meanwhile by RLlib's import and a launcher script's ``register_env``, is copied to it then). ``variables``:
        the environment the job's workers start with (their threads: runtime.backends.rllib.threads)."""
        import ray  # heavy: Ray

        failed = self.node.wait_until_open("127.0.0.1", self.port, LOCAL_RAY_START_S)
        if failed is not None:
            output = self._log_tail()
            self.stop()
            raise UserError(f"The job's Ray (`ray start --head`) {failed}; what it printed:\n{output}\n{BUSY}")
        runtime_env = {"worker_process_setup_hook": _setup_hook(), "env_vars": dict(variables or {})}
        started = time.monotonic()
        while True:
            try:
                ray.init(address=self.address, log_to_driver=True, runtime_env=runtime_env)
                break
            except ConnectionError as exc:
                # ray.init gives the node's raylet 60 s to register with the GCS that already listens; on a machine
                # busy enough (two jobs starting their Ray beside other work) it takes longer: while the node lives,
                # try again within the start's bound.
                ray.shutdown()
                if self.node.exit_code() is not None or time.monotonic() - started > LOCAL_RAY_START_S:
                    raise UserError(
                        f"The job's Ray started but this process could not join it within "
                        f"{LOCAL_RAY_START_S:g} s (Ray: {exc}).\n{BUSY}"
                    ) from exc
                print(
                    "rlrt: the job's Ray is still starting (a busy machine): joining it again",
                    file=sys.stderr,
                    flush=True,
                )
        self.connected = True

    def cancel(self) -> None:
        """The job does not train with RLlib after all (or its spec was rejected): :meth:`stop`."""
        self.stop()

    def stop(self) -> None:
        """Leave the node (``ray.shutdown``) and kill its process group at once: the job is over and nothing on the
        node outlives it (a graceful ``ray stop`` takes ~2 s more). Every Ray process is in that group: the GCS, the
        raylet, its agents and its workers. Then its folder goes. Idempotent."""
        if self.connected:
            import ray  # heavy: Ray

            ray.shutdown()
            self.connected = False
        self.node.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"


def init_ray(
    num_cpus: int, num_gpus: int, local: LocalRay | None = None, variables: Mapping[str, str] | None = None
) -> LocalRay | None:
    """Connect this process to the job's Ray: the cluster it is already connected to (a multi-host head), the one
    ``RAY_ADDRESS`` names, or its own :class:`LocalRay` (``local``, started early; else started now). Returns the
    :class:`LocalRay` to stop at the end (:func:`shutdown_ray`), None when the job joined a cluster. ``variables``:
    the environment the job's Ray workers start with."""
    import ray  # heavy: Ray

    quiet_ray_logs()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return local
    if os.environ.get("RAY_ADDRESS"):
        _join_ray(os.environ["RAY_ADDRESS"], variables)
        return None
    local = local if local is not None else LocalRay(num_cpus, num_gpus)
    local.connect(variables)
    return local


def _setup_hook() -> str:
    """The job's Ray workers' ``worker_process_setup_hook``: the Ray lines that do not apply dropped, and when the
    job's own code has imported the old ``gym`` (a launcher script; its notice was printed once here), ``gym``
    imported without it (:mod:`runtime.backends.rllib.quiet`)."""
    hook = quiet_ray_logs_and_gym if "gym" in sys.modules else quiet_ray_logs
    return f"{hook.__module__}.{hook.__name__}"


def _join_ray(address: str, variables: Mapping[str, str] | None = None) -> None:
    """Join the Ray cluster at ``address`` (``RAY_ADDRESS``); a cluster that is not there is a UserError at once."""
    import ray  # heavy: Ray

    advice = (
        "Unset RAY_ADDRESS to let the job start its own Ray instance, or start that cluster first (`ray start --head`)."
    )
    try:
        target = host_and_port(address)  # None for "auto", "local", ray:// URLs: Ray's to resolve
    except UserError as exc:
        raise UserError(f"RAY_ADDRESS={exc} {advice}") from exc
    if target is not None and not port_open(*target, timeout_s=RAY_ADDRESS_PROBE_S):
        raise UserError(
            f"RAY_ADDRESS={address} names a Ray cluster that does not answer: no TCP connection to "
            f"{address} within {RAY_ADDRESS_PROBE_S:g} s. {advice}"
        )
    try:
        ray.init(address=address, log_to_driver=True, runtime_env={"env_vars": dict(variables or {})})
    except (ConnectionError, ValueError) as exc:  # ValueError: an address Ray cannot parse ("host:x")
        raise UserError(f"RAY_ADDRESS={address}: Ray could not join that cluster ({exc}). {advice}") from exc
    print(f"rlrt: training on the Ray cluster at {address} (RAY_ADDRESS); it stays up after the job", flush=True)


def shutdown_ray(local: LocalRay | None = None) -> None:
    """Leave Ray; with ``local`` (the job's own, :func:`init_ray`'s result) stop it too. A cluster the job only
    joined is left running."""
    import ray  # heavy: Ray

    ray.shutdown()
    if local is not None:
        local.stop()
