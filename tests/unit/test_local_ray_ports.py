"""The job's own Ray listens only on ports the kernel picked: its GCS and its dashboard agent, whose default port
(52365) lies inside the kernel's range of picked ports (``ray start`` refuses a GCS picked there)."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from runtime.backends.rllib import ray_process
from runtime.backends.rllib.ray_process import LocalRay, free_ports
from runtime.cluster.node import RayNode
from runtime.cluster.object_store import ray_temp_root

RAYS_DEFAULT_AGENT_PORT = 52365


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("", port))


@pytest.mark.slow
def test_ray_refuses_a_gcs_on_its_default_agent_port(tmp_path: Path) -> None:
    """Why the job's Ray names its agent's port: without it, a GCS port the kernel picks may be the agent's."""
    folder = tempfile.mkdtemp(prefix="rlrt-test-", dir=ray_temp_root())
    log = tmp_path / "ray-start.log"
    try:
        with log.open("w") as output:
            node = RayNode(["--head", f"--port={RAYS_DEFAULT_AGENT_PORT}", "--include-dashboard=false",
                            "--num-cpus=1"], temp_dir=folder, output=output)
            try:
                assert node.wait_until_open("127.0.0.1", RAYS_DEFAULT_AGENT_PORT, 60) is not None
            finally:
                node.kill()
        assert f"dashboard_agent_http is trying to use a port number {RAYS_DEFAULT_AGENT_PORT}" in log.read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_the_jobs_ray_starts_when_the_kernel_picks_the_agents_default_port_for_its_gcs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel's pick is the one thing made to happen here: the GCS gets 52365, as it once did in CI."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC's servers do: a TIME_WAIT is no user
        try:
            probe.bind(("", RAYS_DEFAULT_AGENT_PORT))
        except OSError:
            pytest.skip(f"port {RAYS_DEFAULT_AGENT_PORT} is in use on this machine")
    picked = free_ports(1)[0]
    monkeypatch.setattr(ray_process, "free_ports", lambda count: [RAYS_DEFAULT_AGENT_PORT, picked])
    local = LocalRay(num_cpus=1, num_gpus=0)
    try:
        assert (local.port, local.agent_port) == (RAYS_DEFAULT_AGENT_PORT, picked)
        local.connect()
        import ray

        assert ray.cluster_resources()["CPU"] == 1
    finally:
        local.stop()
