"""This host's part in the job's Ray cluster, worked out from the job environment alone (no network)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.job.environment import JobEnvironment

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


def describe_plan(plan: ClusterPlan) -> str:
    """A one-line description of this host's role."""
    role = "head" if plan.is_head else "worker"
    return (
        f"{plan.current_host} is the Ray {role} of a {plan.cluster_type} cluster of {plan.expected_nodes} "
        f"node(s) (hosts {', '.join(plan.hosts)})"
    )
