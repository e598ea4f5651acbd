"""A worker host: join the head as a Ray node and stay until the head goes away."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType
from typing import Any

from runtime.cluster.node import RayNode, port_open, resolve_host, resource_args
from runtime.cluster.plan import HEAD_GONE_CHECKS, POLL_S, ClusterPlan
from runtime.errors import EXIT_SIGTERM, UserError
from runtime.job.environment import JobEnvironment


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
        print(
            f"rlrt: {plan.current_host} ({own_ip}) joins the Ray head {plan.head_host} ({head_ip}:{plan.port})",
            file=out,
            flush=True,
        )
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
            [f"--address={head_ip}:{plan.port}", *resource_args(env.num_cpus, env.num_gpus, own_ip, plan.node_name)]
        )
        failures = 0
        while True:
            if stop["term"]:
                print(f"rlrt: SIGTERM on {plan.current_host}: stopping its Ray node", file=out, flush=True)
                return EXIT_SIGTERM
            time.sleep(POLL_S)
            failures = 0 if port_open(head_ip, plan.port) else failures + 1
            if failures >= HEAD_GONE_CHECKS:
                print(
                    f"rlrt: the Ray head {plan.head_host} has gone (training ended); {plan.current_host} exits",
                    file=out,
                    flush=True,
                )
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
