"""Multi-host jobs: form one Ray cluster across the job's hosts (``resourceconfig.json``), with no S3 handshake.

The first host in sorted order is the head. It starts ``ray start --head`` (bound to the address its host name
resolves to), waits until every other host has joined, trains as the Ray driver, and stops the cluster when
training ends. Every other host resolves the head's name (retrying while DNS and the network come up), joins
with ``ray start --address``, stays until the head goes away, then exits 0.

Resources: the head advertises one CPU less than it has (that CPU runs the driver and the learner, which hold no
Ray resources), the other hosts all of theirs; the env-runner count defaults to the CPUs Ray sees in the whole
cluster, so env runners spread over every host and one CPU stays with the learner.

Heterogeneous clusters (the old SageMaker RL ``rl_cluster_type`` hyperparameters), for two training jobs in one
network (a VPC subnet), e.g. a GPU job for the learner and a CPU job for the env runners:

- ``rl_cluster_type=local`` (the default): one job, one cluster over its hosts.
- ``rl_cluster_type=primary`` with ``rl_num_instances_secondary=K``: this job's head also waits for K nodes of a
  secondary job before training. The head's address is printed and written to
  ``output/intermediate/ray_head_address`` (uploaded to S3 during the run) for the secondary job to use.
- ``rl_cluster_type=secondary`` with ``rl_primary_address=HOST[:PORT]``: every host of this job joins the
  primary's head as a worker node and exits 0 when the primary's training ends; this job trains nothing itself.

A single-host local job starts no ``ray start`` process: the driver starts Ray in-process as before.

Settings (environment variables): ``RLRT_CLUSTER_TIMEOUT_S`` (default 600: how long the head waits for the hosts
and a worker for the head), ``RLRT_RAY_PORT`` (default 6379), ``RLRT_RAY_TEMP_DIR`` (Ray's temporary folder on
this host; useful when several "hosts" share one file system, as in the tests), ``RLRT_RAY_AUTH_TOKEN`` (a secret
shared by all hosts turns on Ray's token authentication; without it the cluster runs with RAY_AUTH_MODE=disabled).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any, Iterator, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import EXIT_SIGTERM, JobInterrupted, UserError
from runtime.job.environment import JobEnvironment

log = logging.getLogger(__name__)

CLUSTER_LOCAL = "local"
CLUSTER_PRIMARY = "primary"
CLUSTER_SECONDARY = "secondary"
CLUSTER_TYPES = (CLUSTER_LOCAL, CLUSTER_PRIMARY, CLUSTER_SECONDARY)

TOKEN_ENV = "RLRT_RAY_AUTH_TOKEN"
TIMEOUT_ENV = "RLRT_CLUSTER_TIMEOUT_S"
PORT_ENV = "RLRT_RAY_PORT"
TEMP_DIR_ENV = "RLRT_RAY_TEMP_DIR"
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_PORT = 6379
HEAD_ADDRESS_FILE = "ray_head_address"

POLL_S = 1.0
HEAD_GONE_CHECKS = 3
"""A worker decides the head has gone (training ended) after this many failed connections in a row."""
STOP_GRACE_S = 20.0


@dataclass(frozen=True)
class ClusterPlan:
    """What this host does in the job's cluster, worked out from the job environment alone."""

    cluster_type: str
    hosts: tuple[str, ...]
    current_host: str
    head_host: str
    """Host name (or address) of the Ray head."""
    port: int
    secondary_nodes: int
    """Nodes from a secondary job the head waits for (primary only)."""
    timeout_s: float

    @property
    def is_head(self) -> bool:
        return self.cluster_type != CLUSTER_SECONDARY and self.current_host == self.head_host

    @property
    def expected_nodes(self) -> int:
        return len(self.hosts) + self.secondary_nodes

    @property
    def multi_node(self) -> bool:
        """False for a single-host local job, which starts Ray in-process exactly as before."""
        return self.cluster_type == CLUSTER_SECONDARY or self.expected_nodes > 1

    @property
    def node_name(self) -> str:
        """The Ray node name of this host (a secondary job's hosts are prefixed: both jobs have an ``algo-1``)."""
        prefix = "secondary/" if self.cluster_type == CLUSTER_SECONDARY else ""
        return prefix + self.current_host


@dataclass(frozen=True)
class ClusterInfo:
    """The formed cluster, as the head sees it."""

    address: str
    nodes: Mapping[str, str]
    """Ray node name -> node IP, for the alive nodes."""
    cpus: int
    """CPUs Ray can schedule env runners on, over the whole cluster."""


def ray_auth_environment() -> dict[str, str]:
    """Ray's token authentication for every process of the cluster: on with ``$RLRT_RAY_AUTH_TOKEN`` (the same
    secret on every host, e.g. the estimator's ``environment=``), else off, as before Ray 2.5x (the job's hosts
    are then reachable only inside the job's private network)."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    return {"RAY_AUTH_MODE": "disabled"}


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise UserError(f"{name} must be a number of seconds, got {text!r}") from exc
    if value <= 0:
        raise UserError(f"{name} must be > 0, got {text!r}")
    return value


def _split_address(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    if not port:
        return text.strip(), default_port
    if not port.isdigit():
        raise UserError(f"'{hp.RL_PRIMARY_ADDRESS}' must be HOST or HOST:PORT, got {text!r}")
    return host, int(port)


def plan_cluster(env: JobEnvironment) -> ClusterPlan:
    """Work out this host's role from ``resourceconfig.json`` and the cluster hyperparameters (UserError if bad)."""
    params = env.hyperparameters
    cluster_type = str(params.get(hp.RL_CLUSTER_TYPE, CLUSTER_LOCAL)).strip().lower()
    if cluster_type not in CLUSTER_TYPES:
        raise UserError(
            f"'{hp.RL_CLUSTER_TYPE}' must be one of {', '.join(CLUSTER_TYPES)}, got {params[hp.RL_CLUSTER_TYPE]!r}."
        )
    secondary = params.get(hp.RL_NUM_INSTANCES_SECONDARY, 0)
    if isinstance(secondary, bool) or not isinstance(secondary, int) or secondary < 0:
        raise UserError(f"'{hp.RL_NUM_INSTANCES_SECONDARY}' must be an integer >= 0, got {secondary!r}.")
    if secondary and cluster_type != CLUSTER_PRIMARY:
        raise UserError(
            f"'{hp.RL_NUM_INSTANCES_SECONDARY}={secondary}' needs '{hp.RL_CLUSTER_TYPE}=primary' (this job is "
            f"'{cluster_type}'): only a primary job's head waits for a secondary job's instances."
        )
    port = int(_env_float(PORT_ENV, DEFAULT_PORT))
    timeout = _env_float(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)
    hosts = tuple(sorted(env.hosts))
    if env.current_host not in hosts:
        raise UserError(f"resourceconfig.json: current_host {env.current_host!r} is not among hosts {list(hosts)}.")
    head = hosts[0]
    if cluster_type == CLUSTER_SECONDARY:
        address = params.get(hp.RL_PRIMARY_ADDRESS)
        if not isinstance(address, str) or not address.strip():
            raise UserError(
                f"'{hp.RL_CLUSTER_TYPE}=secondary' needs '{hp.RL_PRIMARY_ADDRESS}': the primary job's Ray head as "
                f"HOST[:PORT] (the primary job prints it and writes it to output/intermediate/{HEAD_ADDRESS_FILE})."
            )
        head, port = _split_address(address, port)
    elif params.get(hp.RL_PRIMARY_ADDRESS):
        raise UserError(f"'{hp.RL_PRIMARY_ADDRESS}' is only for '{hp.RL_CLUSTER_TYPE}=secondary'.")
    return ClusterPlan(cluster_type, hosts, env.current_host, head, port, int(secondary), timeout)


# --- network helpers ------------------------------------------------------------------------------------------


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
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM this child when the process that started it dies (even by SIGKILL)."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class RayNode:
    """One ``ray start --block`` process: this host's Ray node. Stopping it stops every Ray process it started."""

    def __init__(self, args: list[str]) -> None:
        command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--disable-usage-stats", *args]
        temp_dir = os.environ.get(TEMP_DIR_ENV)
        if temp_dir:
            command.append(f"--temp-dir={temp_dir}")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **ray_auth_environment()}
        env.pop("RAY_ADDRESS", None)
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        log.info("starting the Ray node: %s", " ".join(command[3:]))
        self.process = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def exit_code(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        """SIGTERM (``ray start --block`` then stops its node's processes), SIGKILL the group after a grace period."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("the Ray node did not stop within %g s; killing it", STOP_GRACE_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While forming the cluster, SIGTERM raises :class:`JobInterrupted` (so every Ray process is stopped)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise JobInterrupted("SIGTERM while forming the Ray cluster")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _resource_args(num_cpus: int, num_gpus: int, node_ip: str, node_name: str) -> list[str]:
    return [
        f"--num-cpus={num_cpus}",
        f"--num-gpus={num_gpus}",
        f"--node-ip-address={node_ip}",
        f"--node-name={node_name}",
    ]


# --- the head -------------------------------------------------------------------------------------------------


def _alive_nodes() -> dict[str, tuple[str, float]]:
    import ray

    return {
        str(n.get("NodeName") or n.get("NodeManagerAddress")): (
            str(n.get("NodeManagerAddress")),
            float((n.get("Resources") or {}).get("CPU", 0.0)),
        )
        for n in ray.nodes()
        if n.get("Alive")
    }


def _missing(plan: ClusterPlan, nodes: Mapping[str, Any]) -> list[str]:
    missing = [h for h in plan.hosts if h not in nodes]
    extra = len([n for n in nodes if n not in plan.hosts])
    if plan.secondary_nodes > extra:
        missing.append(f"{plan.secondary_nodes - extra} of {plan.secondary_nodes} secondary-job instances")
    return missing


@contextlib.contextmanager
def head_cluster(plan: ClusterPlan, env: JobEnvironment, out: Any = None) -> Iterator[ClusterInfo]:
    """Start the Ray head on this host, wait for every host to join, yield the cluster; stop it on exit.

    The driver stays connected (``ray.init``) when this yields; training reuses that connection.
    """
    import ray

    out = out or sys.stdout
    node: RayNode | None = None
    try:
        with _sigterm_interrupts():
            ip = resolve_host(plan.current_host, plan.timeout_s)
            address = f"{ip}:{plan.port}"
            node = RayNode(
                ["--head", f"--port={plan.port}", "--include-dashboard=false",
                 *_resource_args(max(0, env.num_cpus - 1), env.num_gpus, ip, plan.node_name)]
            )
            deadline = time.monotonic() + plan.timeout_s
            while not port_open(ip, plan.port):
                if node.exit_code() is not None:
                    raise UserError(
                        f"The Ray head on {plan.current_host} ({address}) exited with code {node.exit_code()} "
                        "before it started (see the job log)."
                    )
                if time.monotonic() >= deadline:
                    raise UserError(
                        f"The Ray head on {plan.current_host} did not open {address} in {plan.timeout_s:g} s."
                    )
                time.sleep(POLL_S / 2)
            print(f"rlrt: Ray head at {address} on {plan.current_host}; waiting for {plan.expected_nodes - 1} more "
                  f"node(s) ({plan.timeout_s:g} s timeout)", file=out, flush=True)
            _write_head_address(env, address)
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            os.environ.update(ray_auth_environment())
            ray.init(address=address, _node_ip_address=ip, log_to_driver=True)
            nodes = _alive_nodes()
            while _missing(plan, nodes):
                if node.exit_code() is not None:
                    raise RuntimeError(f"The Ray head process exited with code {node.exit_code()} while waiting.")
                if time.monotonic() >= deadline:
                    raise UserError(
                        f"The Ray cluster did not form within {plan.timeout_s:g} s: the head {plan.current_host} "
                        f"({address}) is missing {', '.join(_missing(plan, nodes))}. Check that every host can "
                        f"reach {address} and that the hosts can reach each other on all TCP ports "
                        f"(SageMaker: the same VPC subnet and a security group allowing traffic between them)."
                    )
                time.sleep(POLL_S)
                nodes = _alive_nodes()
        info = ClusterInfo(
            address=address,
            nodes={name: nip for name, (nip, _) in nodes.items()},
            cpus=int(sum(cpu for _, cpu in nodes.values())),
        )
        print(
            f"rlrt: Ray cluster formed: {len(info.nodes)} nodes ("
            + ", ".join(f"{name}={nip}" for name, nip in sorted(info.nodes.items()))
            + f"), {info.cpus} CPUs for env runners",
            file=out,
            flush=True,
        )
        yield info
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if node is not None:
            node.stop()
            print(f"rlrt: Ray head on {plan.current_host} stopped", file=out, flush=True)


def _write_head_address(env: JobEnvironment, address: str) -> None:
    with contextlib.suppress(OSError):
        env.intermediate_dir.mkdir(parents=True, exist_ok=True)
        (env.intermediate_dir / HEAD_ADDRESS_FILE).write_text(address + "\n")


# --- a worker host --------------------------------------------------------------------------------------------


def run_worker(plan: ClusterPlan, env: JobEnvironment, out: Any = None) -> int:
    """Join the head as a worker node and stay until the head goes away (exit 0), or SIGTERM (exit 143)."""
    out = out or sys.stdout
    node: RayNode | None = None
    stop = {"term": False}

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop["term"] = True

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        deadline = time.monotonic() + plan.timeout_s
        head_ip = resolve_host(plan.head_host, plan.timeout_s)
        own_ip = resolve_host(plan.current_host, max(1.0, deadline - time.monotonic()))
        print(f"rlrt: {plan.current_host} ({own_ip}) joins the Ray head {plan.head_host} ({head_ip}:{plan.port})",
              file=out, flush=True)
        while not port_open(head_ip, plan.port):
            if stop["term"]:
                return EXIT_SIGTERM
            if time.monotonic() >= deadline:
                raise UserError(
                    f"{plan.current_host} could not reach the Ray head {plan.head_host} ({head_ip}:{plan.port}) "
                    f"within {plan.timeout_s:g} s. Did the head host start (see its log)? Can the hosts reach "
                    "each other on all TCP ports?"
                )
            time.sleep(POLL_S)
        node = RayNode(
            [f"--address={head_ip}:{plan.port}", *_resource_args(env.num_cpus, env.num_gpus, own_ip, plan.node_name)]
        )
        failures = 0
        while True:
            if stop["term"]:
                print(f"rlrt: SIGTERM on {plan.current_host}: stopping its Ray node", file=out, flush=True)
                return EXIT_SIGTERM
            time.sleep(POLL_S)
            failures = 0 if port_open(head_ip, plan.port) else failures + 1
            if failures >= HEAD_GONE_CHECKS:
                print(f"rlrt: the Ray head {plan.head_host} has gone (training ended); {plan.current_host} exits",
                      file=out, flush=True)
                return 0
            code = node.exit_code()
            if code is not None and failures == 0:
                raise RuntimeError(
                    f"The Ray node on {plan.current_host} exited with code {code} while the head is still up "
                    "(see the job log)."
                )
    finally:
        signal.signal(signal.SIGTERM, previous)
        if node is not None:
            node.stop()


def env_runner_hosts(algo: Any) -> dict[str, int]:
    """How many of ``algo``'s remote env runners run on each Ray node (by node name); empty with none."""
    import ray

    group = getattr(algo, "env_runner_group", None)
    if group is None or group.num_remote_env_runners() == 0:
        return {}
    node_ids = group.foreach_env_runner(
        lambda runner: ray.get_runtime_context().get_node_id(), local_env_runner=False
    )
    names = {n["NodeID"]: str(n.get("NodeName") or n.get("NodeManagerAddress")) for n in ray.nodes()}
    counts: dict[str, int] = {}
    for node_id in node_ids:
        name = names.get(node_id, node_id)
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def healthy_env_runners(algo: Any) -> tuple[int, int]:
    """(healthy, all) remote env runners of ``algo``."""
    group = getattr(algo, "env_runner_group", None)
    if group is None:
        return 0, 0
    return group.num_healthy_remote_env_runners(), group.num_remote_env_runners()


def describe_plan(plan: ClusterPlan) -> str:
    """A one-line description of this host's role."""
    role = "head" if plan.is_head else "worker"
    return (f"{plan.current_host} is the Ray {role} of a {plan.cluster_type} cluster of {plan.expected_nodes} "
            f"node(s) (hosts {', '.join(plan.hosts)})")


__all__ = [
    "CLUSTER_TYPES", "ClusterInfo", "ClusterPlan", "RayNode", "describe_plan", "env_runner_hosts",
    "healthy_env_runners",
    "head_cluster", "plan_cluster", "port_open", "resolve_host", "run_worker",
]

