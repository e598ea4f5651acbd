"""`rlrt serve` against what could hold it: clients that send half a request (or nothing) never hold /ping (SageMaker's
contract: it answers within 2 s) and get a 408 or a closed connection; a client that does not read its answer is
dropped; a ~37 MB body is answered with the workers' memory bounded, and one the server cannot read cheaply gets a
413 naming the limit. Each test runs its own server on a loopback port and stops it."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import psutil
import requests

from tests.conftest import start_rlrt
from tests.jobs.test_serving_server import free_port, onnx_predict, stop, wait_until_ready
from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401

SLOW_BODY = (
    b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    b"[[0,"
)  # 4 of 100 bytes
SLOW_HEADERS = b"POST /invocations HTTP/1.1\r\nHost: x\r\n"


@contextlib.contextmanager
def serving(model: Path, tmp_path: Path, **settings: str) -> Iterator[tuple[int, psutil.Process, Path]]:
    """``rlrt serve`` with two workers and ``settings`` (environment variables): (port, the server, its log)."""
    port, log = free_port(), tmp_path / f"serve-{len(list(tmp_path.iterdir()))}.log"
    process = start_rlrt(
        ["serve", "--host", "127.0.0.1"],
        base=model,
        log=log,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="2",
        **settings,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + 30
        while len(psutil.Process(process.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield port, psutil.Process(process.pid), log
    finally:
        code = stop(process)
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def open_client(port: int, first_bytes: bytes) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(first_bytes)
    return client


def ping_seconds(port: int, seconds: float) -> list[float]:
    """GET /ping on new connections every 0.2 s for ``seconds``: each one's latency (every one must be a 200)."""
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        response = requests.get(f"http://127.0.0.1:{port}/ping", timeout=10)
        latencies.append(time.monotonic() - started)
        assert response.status_code == 200
        time.sleep(0.2)
    return latencies


def answer_of(client: socket.socket, timeout: float) -> bytes:
    """What the server sent a client (b"" if it closed the connection without an answer)."""
    client.settimeout(timeout)
    with client:
        return client.recv(4096)


def test_slow_and_idle_clients_do_not_hold_ping_and_get_408(cartpole_model: Path, tmp_path: Path) -> None:
    """The case measured on main: two clients that sent headers and 4 of 100 body bytes made every /ping time out.
    With a third that sent half its headers and a fourth that sent nothing, /ping keeps answering at once; the
    slow bodies get a 408 after the read timeout, the half-sent headers and the idle one are closed."""
    with serving(cartpole_model, tmp_path, RLRT_SERVER_READ_TIMEOUT="3") as (port, _, _):
        opened = time.monotonic()
        slow = [open_client(port, SLOW_BODY), open_client(port, SLOW_BODY), open_client(port, SLOW_HEADERS)]
        idle = socket.create_connection(("127.0.0.1", port))
        assert max(ping_seconds(port, 4)) < 2
        answers = [answer_of(client, 10) for client in slow]
        assert time.monotonic() - opened < 10
        for answer in answers[:2]:  # hypercorn sends no reason phrase (optional in HTTP/1.1, RFC 9112 4)
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert b"the request body stopped arriving" in answer
        assert answers[2] == b""  # half its headers: closed after the keep-alive timeout (5 s), as hypercorn does
        assert answer_of(idle, 15) == b""  # closed after the keep-alive timeout (5 s), not held in a thread
        assert (
            requests.post(
                f"http://127.0.0.1:{port}/invocations", json={"instances": [[0, 0, 0, 0]]}, timeout=5
            ).status_code
            == 200
        )


def test_a_slow_client_holds_no_inference_thread(cartpole_model: Path, tmp_path: Path) -> None:
    """One inference thread per worker and a slow client: every /ping answers at once (with gunicorn's gthread it
    waited behind the slow client for the read timeout); the slow client gets its 408."""
    with serving(cartpole_model, tmp_path, RLRT_SERVER_THREADS="1", RLRT_SERVER_READ_TIMEOUT="8") as (port, _, _):
        slow = open_client(port, SLOW_BODY)
        assert max(ping_seconds(port, 3)) < 2
        assert answer_of(slow, 10).startswith(b"HTTP/1.1 408")


def test_a_client_that_does_not_read_its_answer_is_dropped(cartpole_model: Path, tmp_path: Path) -> None:
    """A ~12 MB answer (streamed) to a client that never reads it: the server drops the client after the server
    timeout (3 s here), one line in the log, and keeps serving."""
    observations = np.random.default_rng(0).standard_normal((300_000, 4)).round(4)
    body = json.dumps({"instances": observations.tolist()}).encode()
    with serving(cartpole_model, tmp_path, SAGEMAKER_MODEL_SERVER_TIMEOUT="3") as (port, _, log):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)  # before connecting: a small window
        client.connect(("127.0.0.1", port))
        client.sendall(
            f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert max(ping_seconds(port, 5)) < 2
        deadline = time.monotonic() + 20
        while "did not take its answer" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "did not take its answer within 3 s; connection closed" in log.read_text()
        received = 0
        client.settimeout(5)
        with client:
            while data := client.recv(1 << 20):
                received += len(data)
        assert 0 < received < 12_000_000  # part of the answer, then the connection closed
        assert max(ping_seconds(port, 1)) < 2


def test_a_large_body_is_answered_in_bounded_memory(cartpole_model: Path, tmp_path: Path) -> None:
    """A ~37 MB JSON body (1.1 M observations): the right answer, streamed, with the largest worker's memory under
    400 MB (it was ~1 GB: ~2.5 GB for 100 MB, ~15 GB for 100 MB of short numbers); a 20 MB body that is not rows of
    plain numbers gets a 413 naming the limit, without reading it the slow way."""
    observations = np.random.default_rng(1).standard_normal((1_100_000, 4)).round(4)
    body = json.dumps({"instances": observations.tolist()}).encode()
    odd = json.dumps({"instances": [{"observations": row} for row in observations[:500_000].tolist()]}).encode()
    assert len(body) > 35 * 2**20 and 16 * 2**20 < len(odd) < 100 * 2**20
    with serving(cartpole_model, tmp_path) as (port, server, _):
        peak, done = [0.0], threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                for worker in server.children():
                    with contextlib.suppress(psutil.Error):
                        peak[0] = max(peak[0], worker.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            response = requests.post(
                f"http://127.0.0.1:{port}/invocations",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
            refused = requests.post(
                f"http://127.0.0.1:{port}/invocations",
                data=odd,
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
        finally:
            done.set()
            sampler.join()
        assert response.status_code == 200 and response.headers.get("Transfer-Encoding") == "chunked"
        predictions = np.asarray(response.json()["predictions"])
        assert predictions.shape == (len(observations), 2)
        rows = np.random.default_rng(2).choice(len(observations), 1000, replace=False)
        expected = onnx_predict(cartpole_model / "model", observations[rows])["action_probabilities"]
        np.testing.assert_allclose(predictions[rows], expected, atol=1e-6)
        assert refused.status_code == 413 and "over 16 MB must hold its observations as rows" in refused.json()["error"]
        assert peak[0] < 400 * 2**20, f"a worker reached {peak[0] / 2**20:.0f} MB"
