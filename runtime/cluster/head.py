"""The head host: start the Ray head, wait for every host to join, train as the driver, stop the cluster;
and where the driver's env runners run."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any, Iterator, Mapping

from runtime.cluster.node import (
    RayNode,
    ray_auth_environment,
    resolve_host,
    resource_args,
    sigterm_interrupts,
)
from runtime.cluster.plan import HEAD_ADDRESS_FILE, POLL_S, ClusterInfo, ClusterPlan
from runtime.errors import UserError
from runtime.job.environment import JobEnvironment


def _alive_nodes() -> dict[str, tuple[str, float]]:
    import ray  # heavy: Ray and RLlib (~4 s)

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
    import ray  # heavy: Ray and RLlib (~4 s)

    out = out or sys.stdout
    node: RayNode | None = None
    try:
        with sigterm_interrupts():
            ip = resolve_host(plan.current_host, plan.timeout_s)
            address = f"{ip}:{plan.port}"
            node = RayNode(
                [
                    "--head",
                    f"--port={plan.port}",
                    "--include-dashboard=false",
                    *resource_args(max(0, env.num_cpus - 1), env.num_gpus, ip, plan.node_name),
                ]
            )
            deadline = time.monotonic() + plan.timeout_s
            failed = node.wait_until_open(ip, plan.port, plan.timeout_s)
            if failed is not None:
                raise UserError(f"The Ray head on {plan.current_host} ({address}) {failed}.")
            print(
                f"rlrt: Ray head at {address} on {plan.current_host}; waiting for {plan.expected_nodes - 1} more "
                f"node(s) ({plan.timeout_s:g} s timeout)",
                file=out,
                flush=True,
            )
            _write_head_address(env, address)
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            os.environ.update(ray_auth_environment())
            ray.init(address=address, log_to_driver=True)  # the driver takes its IP from this host's raylet (`ip`)
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


def env_runner_hosts(algo: Any) -> dict[str, int]:
    """How many of ``algo``'s remote env runners run on each Ray node (by node name); empty with none."""
    import ray  # heavy: Ray and RLlib (~4 s)

    group = getattr(algo, "env_runner_group", None)
    if group is None or group.num_remote_env_runners() == 0:
        return {}
    node_ids = group.foreach_env_runner(lambda runner: ray.get_runtime_context().get_node_id(), local_env_runner=False)
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
