"""Every Ray node rlrt starts (``RayNode``: the job's own Ray, a multi-host head or worker) gives its dashboard agent a
port the kernel picked. Ray's default for it (52365) lies inside the kernel's range of picked ports, and ``ray start``
refuses to run when its GCS is on that port: a GCS port the kernel picked (the job's own Ray) or one a user chose
(``RLRT_RAY_PORT`` for a multi-host head)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.backends.rllib import ray_process
from runtime.backends.rllib.ray_process import LocalRay
from runtime.cluster.node import RayNode, free_ports, with_agent_port
from runtime.cluster.object_store import ray_temp_root
from runtime.errors import UserError

RAYS_DEFAULT_AGENT_PORT = 52365


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("", port))


@given(st.integers(min_value=1, max_value=65535))
def test_the_agent_port_is_never_the_gcs_port_the_arguments_name(gcs_port: int) -> None:
    args, agent_port = with_agent_port(["--head", f"--port={gcs_port}", "--num-cpus=1"])
    assert agent_port is not None and agent_port != gcs_port
    assert args == ["--head", f"--port={gcs_port}", "--num-cpus=1", f"--dashboard-agent-listen-port={agent_port}"]


def test_the_gcs_port_the_kernel_would_pick_next_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.cluster import node

    monkeypatch.setattr(node, "free_ports", lambda count: [6379, 40000][:count])
    assert with_agent_port(["--head", "--port=6379"])[1] == 40000
    assert with_agent_port(["--head", "--port=40000"])[1] == 6379


def test_an_agent_port_the_arguments_name_is_kept() -> None:
    args = ["--address=10.0.0.1:6379", "--dashboard-agent-listen-port=52366"]
    assert with_agent_port(args) == (args, None)


def _start_head(gcs_port: int, extra: list[str], log: Path) -> tuple[str | None, int | None, str]:
    """Start a one-CPU head on ``gcs_port``: why it did not start (None once it listens), its agent port, its log."""
    folder = tempfile.mkdtemp(prefix="rlrt-test-", dir=ray_temp_root())
    try:
        with log.open("w") as output:
            node = RayNode(
                ["--head", f"--port={gcs_port}", "--include-dashboard=false", "--num-cpus=1", *extra],
                temp_dir=folder,
                output=output,
            )
            try:
                failed = node.wait_until_open("127.0.0.1", gcs_port, 60)
            finally:
                node.kill()
        return failed, node.agent_port, log.read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _skip_unless_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC's servers do: a TIME_WAIT is no user
        try:
            probe.bind(("", port))
        except OSError:
            pytest.skip(f"port {port} is in use on this machine")


@pytest.mark.slow
def test_ray_refuses_a_gcs_on_its_agents_port(tmp_path: Path) -> None:
    """Why every node names its agent's port: Ray will not share one port between the two."""
    _skip_unless_free(RAYS_DEFAULT_AGENT_PORT)
    failed, agent_port, log = _start_head(
        RAYS_DEFAULT_AGENT_PORT,
        [f"--dashboard-agent-listen-port={RAYS_DEFAULT_AGENT_PORT}"],
        tmp_path / "ray-start.log",
    )
    assert failed is not None and agent_port is None
    assert f"dashboard_agent_http is trying to use a port number {RAYS_DEFAULT_AGENT_PORT}" in log


@pytest.mark.slow
def test_a_head_on_rays_default_agent_port_starts(tmp_path: Path) -> None:
    """A multi-host head with ``RLRT_RAY_PORT=52365`` (the user's choice) starts: its agent listens elsewhere."""
    _skip_unless_free(RAYS_DEFAULT_AGENT_PORT)
    failed, agent_port, log = _start_head(RAYS_DEFAULT_AGENT_PORT, [], tmp_path / "ray-start.log")
    assert failed is None, log
    assert agent_port is not None and agent_port != RAYS_DEFAULT_AGENT_PORT


@pytest.mark.slow
def test_the_jobs_ray_starts_when_the_kernel_picks_the_agents_default_port_for_its_gcs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel's pick is the one thing made to happen here: the GCS gets 52365, as it once did in CI."""
    _skip_unless_free(RAYS_DEFAULT_AGENT_PORT)
    monkeypatch.setattr(ray_process, "free_ports", lambda count: [RAYS_DEFAULT_AGENT_PORT])
    local = LocalRay(num_cpus=1, num_gpus=0)
    try:
        assert local.port == RAYS_DEFAULT_AGENT_PORT
        assert local.node.agent_port not in (None, RAYS_DEFAULT_AGENT_PORT)
        local.connect()
        import ray

        assert ray.cluster_resources()["CPU"] == 1
    finally:
        local.stop()


@pytest.mark.slow
def test_the_job_joins_its_ray_when_the_raylet_registers_after_rays_own_wait(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a busy machine the raylet can register with the (listening) GCS after the 60 s ray.init gives it; Ray's
    driver then raises "Failed to connect to Ray cluster" (seen when two jobs started their Ray together beside a test
    suite). Ray's own wait is made to time out once here; the job joins on the next try."""
    import ray._private.services as services

    real = services.get_node_to_connect_for_driver
    calls = []

    def times_out_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Timed out waiting for the node to register (as Ray says after 60 s)")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "get_node_to_connect_for_driver", times_out_once)
    local = LocalRay(num_cpus=1, num_gpus=0)
    try:
        local.connect()
        import ray

        assert ray.cluster_resources()["CPU"] == 1 and len(calls) == 2
        assert "rlrt: the job's Ray is still starting (a busy machine): joining it again" in capsys.readouterr().err
    finally:
        local.stop()


def test_a_ray_that_never_lets_the_job_join_ends_in_a_sentence_not_a_framework_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ray's wait for the node times out on every try, past the start's bound: the job stops with what Ray said and
    what to do, and nothing of its Ray is left running."""
    import ray._private.services as services

    def times_out(*args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(ray_process, "LOCAL_RAY_START_S", 0.0)  # the node listens by now: the joins' bound ends
        raise RuntimeError("Timed out waiting for the node to register (as Ray says after 60 s)")

    monkeypatch.setattr(services, "get_node_to_connect_for_driver", times_out)
    local = LocalRay(num_cpus=1, num_gpus=0)
    try:
        with pytest.raises(UserError, match=r"could not join it within 0 s \(Ray: .*\)\.\nThat is this machine"):
            local.connect()
    finally:
        local.stop()
    assert local.node.exit_code() is not None


def test_a_jobs_own_ray_runs_without_a_client_server_or_an_autoscaler_monitor() -> None:
    """The lean start (runtime.cluster.lean_ray_start) relies on a private name of Ray's and a hidden flag: pinned
    here by what runs. The job's node has its GCS, raylet and agents, and neither the Ray Client server nor the
    autoscaler's monitor; a task runs on it."""
    import ray
    import ray.scripts.scripts

    assert callable(ray.scripts.scripts.get_ray_client_dependency_error)
    local = LocalRay(num_cpus=1, num_gpus=0)
    try:
        local.connect()
        assert ray.get(ray.remote(lambda: 42).remote()) == 42
        group = os.getpgid(local.node.process.pid)
        commands = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                if os.getpgid(int(pid)) == group:
                    commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        assert any("gcs_server" in c for c in commands) and any("raylet" in c for c in commands), commands
        assert not any("ray.util.client.server" in c or "autoscaler" in c for c in commands), commands
    finally:
        local.stop()


def test_the_jobs_ray_shares_its_session_and_its_workers_its_nice_value() -> None:
    """Linux shares the CPUs between sessions before it reads nice values (autogroup, on by default): with Ray in a
    session of its own, and its workers at Ray's nice 15, a nice-19 background load took ~40 % of a Hopper job's env
    runners' time (bench/results/history.md). The node is in this process's session, in a process group of its own
    (a terminal's Ctrl-C reaches the job only), and a worker runs at this process's nice value."""
    import ray

    local = LocalRay(num_cpus=1, num_gpus=0)
    try:
        local.connect()

        @ray.remote
        def where() -> tuple[int, int]:
            return os.getsid(0), os.getpriority(os.PRIO_PROCESS, 0)

        session, nice = ray.get(where.remote())
        assert session == os.getsid(0)
        assert nice == os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getsid(local.node.process.pid) == os.getsid(0)
        assert os.getpgid(local.node.process.pid) == local.node.process.pid != os.getpgid(0)
    finally:
        local.stop()
