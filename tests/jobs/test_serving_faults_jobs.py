"""`rlrt serve` under faults: the model folder replaced while serving, a worker killed mid-request, and a load of
10,000 requests at concurrency 32 with 5 % malformed bodies (zero 5xx, memory flat)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import psutil
import pytest
import requests

from tests.conftest import start_rlrt
from tests.jobs.test_serving_server import free_port, stop, wait_until_ready
from tests.trained_models import cartpole_model, reacher_model, tf_env, tf_python, training_output  # noqa: F401

JSON = {"Content-Type": "application/json"}
OBSERVATIONS = np.random.default_rng(5).standard_normal((8, 4)).round(4).tolist()


def workers_of(process: subprocess.Popen) -> list[psutil.Process]:
    """The gunicorn workers (children of the master, which is the ``rlrt serve`` process), alive when looked at."""
    alive = []
    for child in psutil.Process(process.pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:  # the killed worker was reaped between the listing and the look
            continue
    return alive


def wait_for_workers(
    process: subprocess.Popen, count: int, exclude: set[int] = frozenset(), timeout: float = 30
) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [w for w in workers_of(process) if w.pid not in exclude]
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not bring {count} worker(s) up within {timeout} s")


def predict(url: str) -> list:
    response = requests.post(
        url + "/invocations", data=json.dumps({"instances": OBSERVATIONS}), headers=JSON, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


@pytest.fixture()
def served(cartpole_model: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """A copy of the CartPole model served by two workers."""
    base = tmp_path / "ml"
    shutil.copytree(cartpole_model / "model", base / "model")
    port, log = free_port(), tmp_path / "serve.log"
    process = start_rlrt(
        ["serve", "--host", "127.0.0.1"],
        base=base,
        log=log,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="2",
        SAGEMAKER_MODEL_SERVER_TIMEOUT="30",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        wait_for_workers(process, 2)
        yield url, process, base / "model"
    finally:
        code = stop(process)
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_the_model_folder_replaced_while_serving(served: tuple, reacher_model: Path) -> None:
    """The folder is swapped for another model (another observation size) and a worker is replaced: every worker,
    the new one included, still serves the model the server started with."""
    url, process, model = served
    before = predict(url)
    shutil.rmtree(model)
    shutil.copytree(reacher_model / "model", model)
    assert predict(url) == before
    old = {w.pid for w in workers_of(process)}
    for worker in workers_of(process):
        worker.kill()
    wait_for_workers(process, 2, exclude=old)
    for _ in range(10):  # both new workers answer with the model loaded at start
        assert predict(url) == before


def test_a_worker_killed_mid_request_only_fails_the_request_in_flight(served: tuple) -> None:
    url, process, _ = served
    expected = predict(url)
    statuses: list[int | str] = []
    stop_event = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop_event.is_set():
                try:
                    response = session.post(
                        url + "/invocations", data=json.dumps({"instances": OBSERVATIONS}), headers=JSON, timeout=10
                    )
                    statuses.append(response.status_code)
                    assert response.status_code != 200 or response.json()["predictions"] == expected
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    statuses.append("connection")

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    victim = workers_of(process)[0]
    victim.send_signal(signal.SIGKILL)
    wait_for_workers(process, 2, exclude={victim.pid})
    time.sleep(1.5)
    stop_event.set()
    for thread in threads:
        thread.join(timeout=20)
    failed = [s for s in statuses if s != 200]
    assert len(statuses) > 50 and not any(isinstance(s, int) and s >= 500 for s in failed), failed
    assert len(failed) <= 4, failed  # at most the requests in flight (one per client) when the worker died


@pytest.mark.slow
def test_ten_thousand_requests_with_malformed_ones_no_5xx_and_flat_memory(served: tuple) -> None:
    url, process, _ = served
    rng = np.random.default_rng(0)
    bad_bodies = [
        b"{",
        b"[1, 2",
        b'{"instances": [[1, 2]]}',
        b'{"instances": "x"}',
        b"\xff\xfe",
        b"",
        b'{"inputs": {"observations": [[null, 1, 2, 3]]}}',
        b'{"instances": [[1e999, 0, 0, 0]]}',
    ]
    requests_to_send = []
    for i in range(10_000):
        if i % 20 == 7:
            requests_to_send.append((bad_bodies[i % len(bad_bodies)], True))
        else:
            requests_to_send.append((json.dumps({"instances": rng.standard_normal((1, 4)).tolist()}).encode(), False))

    def rss() -> int:
        return sum(w.memory_info().rss for w in workers_of(process))

    local = threading.local()

    def send(item: tuple[bytes, bool]) -> tuple[int, bool]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        body, malformed = item
        return local.session.post(url + "/invocations", data=body, headers=JSON, timeout=30).status_code, malformed

    with ThreadPoolExecutor(32) as pool:  # warm up: the first requests allocate ONNX Runtime's buffers
        list(pool.map(send, requests_to_send[:500]))
        before = rss()
        started = time.monotonic()
        results = list(pool.map(send, requests_to_send))
        elapsed = time.monotonic() - started
        after = rss()
    server_errors = [s for s, _ in results if s >= 500]
    assert not server_errors
    assert all(s == 200 for s, bad in results if not bad)
    assert all(400 <= s < 500 for s, bad in results if bad)
    assert after - before < 30 * 2**20, f"worker memory grew by {(after - before) / 2**20:.1f} MiB"
    assert process.poll() is None and os.getpid()
    print(
        f"10,000 requests at concurrency 32 in {elapsed:.1f} s; worker RSS {before / 2**20:.0f} -> "
        f"{after / 2**20:.0f} MiB"
    )
