"""Several "hosts" on one machine: Linux network namespaces on a private bridge, for multi-host job tests.

Each host is a network namespace with one veth on a bridge of our own (10.213.7.0/24) and an
``/etc/netns/<ns>/hosts`` file, which ``ip netns exec`` bind-mounts over ``/etc/hosts``, so ``algo-1``, ``algo-2``
resolve inside every namespace as they do on SageMaker. The bridge lives in a namespace of its own (the "switch"),
not in the root namespace: the machine's firewall never sees the hosts' traffic (a Docker engine sets the FORWARD
policy to DROP and loads ``br_netfilter``, which would drop it), and nothing of the machine's is touched.
:meth:`NetnsHosts.close` removes everything it made (processes, namespaces, links, files), even after a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from tests.conftest import REPO_ROOT, make_job_tree, rlrt_env

SUBNET = "10.213.7"
NETNS_ETC = Path("/etc/netns")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


def unavailable_reason() -> str | None:
    """Why namespace hosts cannot be made here (None when they can)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux-only"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (this test runs as an unprivileged user)"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is not installed"
    probe = f"rlrt6probe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"'ip netns add' is not permitted here: {exc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class NetnsHosts:
    """``count`` hosts ``algo-1..algo-N``, each a network namespace with its own job tree."""

    def __init__(self, root: Path, count: int) -> None:
        self.token = uuid.uuid4().hex[:5]
        self.bridge = "br0"  # inside the switch namespace
        self.switch = f"rlrt6-{self.token}-switch"
        self.hosts = [f"algo-{i + 1}" for i in range(count)]
        self.ips = {h: f"{SUBNET}.{i + 1}" for i, h in enumerate(self.hosts)}
        self.namespaces = {h: f"rlrt6-{self.token}-{h}" for h in self.hosts}
        self.root = root
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self._made: list[str] = []

    def create(self) -> "NetnsHosts":
        _ip("netns", "add", self.switch)
        self._made.append(self.switch)
        _ip("-n", self.switch, "link", "add", self.bridge, "type", "bridge")
        _ip("-n", self.switch, "link", "set", self.bridge, "up")
        hosts_file = "127.0.0.1 localhost\n" + "".join(f"{ip} {h}\n" for h, ip in self.ips.items())
        for i, host in enumerate(self.hosts):
            ns = self.namespaces[host]
            outer, inner = f"r6{self.token}h{i}", f"r6{self.token}p{i}"
            _ip("netns", "add", ns)
            self._made.append(ns)
            (NETNS_ETC / ns).mkdir(parents=True, exist_ok=True)
            (NETNS_ETC / ns / "hosts").write_text(hosts_file)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", outer, "netns", self.switch)
            _ip("link", "set", inner, "netns", ns)
            _ip("-n", self.switch, "link", "set", outer, "master", self.bridge)
            _ip("-n", self.switch, "link", "set", outer, "up")
            _ip("-n", ns, "addr", "add", f"{self.ips[host]}/24", "dev", inner)
            _ip("-n", ns, "link", "set", inner, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        return self

    def job_tree(self, host: str, hyperparameters: Mapping[str, object]) -> Path:
        """The host's own ``/opt/ml`` tree with its ``resourceconfig.json``."""
        base = self.root / host / "opt" / "ml"
        make_job_tree(base, dict(hyperparameters), hosts=self.hosts, current_host=host)
        return base

    def start(self, host: str, args: Sequence[str], cpus: int, **extra: str) -> subprocess.Popen:
        """Run ``python -m runtime.cli ARGS`` inside ``host``'s namespace against its own tree."""
        base = self.root / host / "opt" / "ml"
        log = self.root / f"{host}.log"
        env = rlrt_env(base, SM_NUM_CPUS=str(cpus), RLRT_RAY_TEMP_DIR=f"/tmp/r6{self.token}{host[-1]}", **extra)
        env.pop("RAY_ADDRESS", None)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.namespaces[host], sys.executable, "-m", "runtime.cli", *args],
            cwd=str(REPO_ROOT),
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[host] = proc
        self.logs[host] = log
        return proc

    def log(self, host: str) -> str:
        path = self.logs.get(host)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(f"===== {h} =====\n{self.log(h)[-6000:]}" for h in self.hosts)

    def namespace_pids(self, host: str) -> list[int]:
        found = subprocess.run(["ip", "netns", "pids", self.namespaces[host]], capture_output=True, text=True)
        return [int(p) for p in found.stdout.split()] if found.returncode == 0 else []

    def wait_all(self, timeout: float) -> dict[str, int | None]:
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for host, proc in self.processes.items():
            try:
                codes[host] = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[host] = None
        return codes

    def close(self) -> None:
        """Kill what still runs in the namespaces, then remove namespaces, links and hosts files."""
        for _host, proc in self.processes.items():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(self.namespace_pids(h) for h in self._made_hosts()):
            time.sleep(0.5)
        for host in self._made_hosts():
            for pid in self.namespace_pids(host):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        for i, _host in enumerate(self.hosts):  # a veth left in the root namespace by a failed create()
            subprocess.run(["ip", "link", "del", f"r6{self.token}h{i}"], capture_output=True)  # and its peer
        for host in self._made_hosts():
            subprocess.run(["ip", "netns", "del", self.namespaces[host]], capture_output=True)
            shutil.rmtree(NETNS_ETC / self.namespaces[host], ignore_errors=True)
        if self.switch in self._made:  # takes the bridge and the veths' switch ends with it
            subprocess.run(["ip", "netns", "del", self.switch], capture_output=True)
        for host in self.hosts:
            shutil.rmtree(f"/tmp/r6{self.token}{host[-1]}", ignore_errors=True)

    def _made_hosts(self) -> list[str]:
        return [h for h in self.hosts if self.namespaces[h] in self._made]

    def leftovers(self, wait_s: float = 10.0) -> list[str]:
        """Anything of ours still present after ``wait_s`` (the kernel removes namespaces' links asynchronously)."""
        deadline = time.monotonic() + wait_s
        while True:
            left = self._present()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.5)

    def _present(self) -> list[str]:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        left = [ns for ns in [*self.namespaces.values(), self.switch] if ns in names]
        left += [f"link r6{self.token}*"] if f"r6{self.token}" in links else []
        left += [str(NETNS_ETC / ns) for ns in self.namespaces.values() if (NETNS_ETC / ns).exists()]
        return left


@contextlib.contextmanager
def netns_hosts(root: Path, count: int) -> Iterator[NetnsHosts]:
    """Create ``count`` namespace hosts; tear all of it down on exit, whatever happened."""
    hosts = NetnsHosts(root, count)
    try:
        yield hosts.create()
    finally:
        hosts.close()
