"""This host's Ray node (``ray start --block``), the network helpers and Ray's authentication settings."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO, Iterator, Mapping

from runtime.cluster.object_store import object_store_for_this_machine, ray_start_flags
from runtime.cluster.plan import POLL_S, STOP_GRACE_S, TEMP_DIR_ENV, TOKEN_ENV
from runtime.errors import JobInterrupted, UserError

log = logging.getLogger(__name__)
RAY_WORKER_NICENESS = "RAY_worker_niceness"
"""Ray's internal setting for the nice value of the workers a node starts (``ray_config_def.h``; Ray's default 15)."""


def ray_auth_environment() -> dict[str, str]:
    """Ray's token authentication for every process of the cluster: on with ``$RLRT_RAY_AUTH_TOKEN`` (the same
    secret on every host, e.g. the estimator's ``environment=``), else off, as before Ray 2.5x (the job's hosts
    are then reachable only inside the job's private network)."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    return {"RAY_AUTH_MODE": "disabled"}


def resolve_host(name: str, timeout_s: float) -> str:
    """The IPv4 address of ``name``, retrying until ``timeout_s`` while DNS comes up (UserError naming it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return socket.gethostbyname(name)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise UserError(f"Host '{name}' did not resolve within {timeout_s:g} s ({exc}).") from exc
        time.sleep(POLL_S)


def port_open(ip: str, port: int, timeout_s: float = 2.0) -> bool:
    """Whether a TCP connection to ``ip:port`` succeeds."""
    try:
        with socket.create_connection((ip, port), timeout=timeout_s):
            return True
    except (OSError, ValueError):  # ValueError: a name the IDNA codec refuses (a label over 63 characters)
        return False


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports no one listens on now (the kernel's picks, all held open until each is picked so
    that no two are the same)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def with_agent_port(args: list[str]) -> tuple[list[str], int | None]:
    """``ray start``'s arguments with a port the kernel picked for the node's dashboard agent, and that port (None
    where the arguments name one already). Ray's default for it (52365) lies inside the kernel's range of picked
    ports, and ``ray start`` refuses to run when another of its ports (a GCS port picked by the kernel, or one a user
    chose) is that one."""
    if any(arg.startswith("--dashboard-agent-listen-port") for arg in args):
        return list(args), None
    named = {arg.partition("=")[2] for arg in args if arg.startswith("--port=")}
    # Two distinct picks: at most one of them can be the GCS port the arguments name.
    port = next(port for port in free_ports(2) if str(port) not in named)
    return [*args, f"--dashboard-agent-listen-port={port}"], port


def host_and_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (or ``[IPV6]:PORT``) split in two; None for any other form (``auto``, a URL, no port). A port
    over 65535 is a UserError (Ray would try to reach it for minutes)."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if "://" in address or not host or not re.fullmatch(r"[0-9]+", port):
        return None
    if len(port) > 5 or int(port) > 65535:
        raise UserError(f"{address}: {port[:20]} is not a TCP port (0 to 65535).")
    return host, int(port)


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Put this child in a process group of its own and ask the kernel to SIGTERM it when the process that started
    it dies (even by SIGKILL).

    A process group, not a session: a terminal's Ctrl-C and a ``kill -TERM -PGID`` reach the starter only, which
    stops the child itself, while the child stays in the starter's session. Linux's scheduler (autogroup, on by
    default) shares the CPUs between sessions first and reads nice values only within one, so a child in a session
    of its own got half the machine beside a nice-19 load started from the job's terminal, as if that load were not
    niced (bench/results/history.md).
    """
    os.setpgid(0, 0)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class RayNode:
    """One ``ray start --block`` process: this host's Ray node, its object store sized to this host's ``/dev/shm``
    (:mod:`runtime.cluster.object_store`). Stopping it stops every Ray process it started.

    It runs in a process group of its own (a terminal's Ctrl-C reaches the job, which stops it, not Ray directly), and
    the kernel sends it SIGTERM when the process that started it dies, even by SIGKILL (``ray start --block`` then stops
    its node's processes). ``env``: its environment (default: this process's, with the cluster's authentication
    settings); ``temp_dir``: Ray's folder (default: ``$RLRT_RAY_TEMP_DIR``, else Ray's own); ``output``: a file for
    what it prints (default: the job's log). Its dashboard agent listens on a port the kernel picked unless ``args``
    name one (:func:`with_agent_port`; ``agent_port``). ``lean``: a one-machine job's own node, without the Ray Client
    server and the autoscaler's monitor (:mod:`runtime.cluster.lean_ray_start`).
    """

    def __init__(
        self,
        args: list[str],
        env: Mapping[str, str] | None = None,
        temp_dir: str | None = None,
        output: IO[str] | None = None,
        lean: bool = False,
    ) -> None:
        args, self.agent_port = with_agent_port(args)
        # The lean launcher runs as a file, importing only Ray: whatever put rlrt on this process's path need not
        # reach the node's.
        launcher = (
            [str(Path(__file__).with_name("lean_ray_start.py")), "start", "--no-monitor"]
            if lean
            else ["-m", "ray.scripts.scripts", "start"]
        )
        command = [
            sys.executable,
            *launcher,
            "--block",
            "--disable-usage-stats",
            *args,
            *ray_start_flags(object_store_for_this_machine()),
        ]  # sized to this host's /dev/shm
        temp_dir = temp_dir or os.environ.get(TEMP_DIR_ENV)
        if temp_dir:
            command.append(f"--temp-dir={temp_dir}")
        env = {**(env if env is not None else {**os.environ, **ray_auth_environment()}), "RAY_USAGE_STATS_ENABLED": "0"}
        # Ray starts its workers at nice 15 (its services stay responsive beside them); a job's workers are its env
        # runners, its main work, and at 15 a nice-19 background load took ~30 % of their CPU. A user's own setting
        # wins.
        env.setdefault(RAY_WORKER_NICENESS, "0")
        env.pop("RAY_ADDRESS", None)
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        if output is None:
            log.info("starting the Ray node: %s", " ".join(command[command.index("start") :]))
        else:
            print("$", " ".join(command[command.index("start") :]), file=output, flush=True)
        # preexec_fn is needed for PR_SET_PDEATHSIG (no Popen argument sets it); it runs setpgid and prctl through an
        # already-loaded libc, and imports nothing, so Python's caveat about threads does not bite here. No stdin: a
        # background process group that read the job's terminal would be stopped by it (SIGTTIN).
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )

    def exit_code(self) -> int | None:
        return self.process.poll()

    def wait_until_open(self, ip: str, port: int, timeout_s: float) -> str | None:
        """Wait until ``ip:port`` (a head's GCS) accepts TCP connections: None once it does, else why it did not
        (the node exited, or ``timeout_s`` passed)."""
        deadline = time.monotonic() + timeout_s
        while not port_open(ip, port):
            if self.exit_code() is not None:
                return f"exited with code {self.exit_code()} before it started (see the job log)"
            if time.monotonic() >= deadline:
                return f"did not start listening within {timeout_s:g} s"
            time.sleep(POLL_S / 20)
        return None

    def stop(self) -> None:
        """SIGTERM (``ray start --block`` then stops its node's processes), SIGKILL the group after a grace period."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("the Ray node did not stop within %g s; killing it", STOP_GRACE_S)
        self.kill()

    def kill(self) -> None:
        """SIGKILL its process group (the node's Ray processes; workers too where Ray keeps them in it) and wait for
        it. Idempotent."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While forming the cluster, SIGTERM raises :class:`JobInterrupted` (so every Ray process is stopped)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise JobInterrupted("SIGTERM", "forming the Ray cluster")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resource_args(num_cpus: int, num_gpus: int, node_ip: str, node_name: str) -> list[str]:
    return [
        f"--num-cpus={num_cpus}",
        f"--num-gpus={num_gpus}",
        f"--node-ip-address={node_ip}",
        f"--node-name={node_name}",
    ]
