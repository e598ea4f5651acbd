"""The docker client as the image tests use it: run a command, pick a loopback port, serve a model folder and send
seed 000's request (shared by test_image.py and the SageMaker SDK tests)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from runtime.cluster.node import free_ports
from tests.image.inputs import SEED_REQUEST


def docker(*args: str, timeout: float = 900, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the docker client and capture its output."""
    run = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and run.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {run.returncode}: {run.stderr[-3000:]}")
    return run


def free_port() -> int:
    """A TCP port no one listens on."""
    return free_ports(1)[0]


def serve_and_predict(image: str, base: Path, name: str, label: tuple[str, ...]) -> dict[str, Any]:
    """`docker run -d IMAGE serve` over the tree ``base`` (its model/ is served), wait for /ping, send seed 000's
    request to /invocations, then `docker stop` and check the server exited 0 with no traceback; the answer."""
    port = free_port()
    docker(
        "run",
        "-d",
        *label,
        "--name",
        name,
        "-p",
        f"127.0.0.1:{port}:8080",
        "-v",
        f"{base}:/opt/ml",
        image,
        "serve",
        check=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
                assert response.status == 200
                break
        except OSError:
            logs = docker("logs", name)
            assert time.monotonic() < deadline, f"/ping never answered: {(logs.stdout + logs.stderr)[-3000:]}"
            time.sleep(1)
    request = urllib.request.Request(
        f"{url}/invocations", data=json.dumps(SEED_REQUEST).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    docker("stop", "-t", "30", name, timeout=60, check=True)
    state = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
    logs = docker("logs", name)
    assert state == "0", f"serve exited {state}: {(logs.stdout + logs.stderr)[-3000:]}"
    assert "Traceback" not in logs.stdout + logs.stderr
    return answer
