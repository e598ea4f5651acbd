"""Serving benchmarks: /invocations latency, `rlrt transform` throughput, a load run with malformed requests, and
what holds the server: slow clients against /ping, and a 100 MB body.

    python bench/serving.py --model MODEL_DIR [--out bench/results/serving.md]
    python bench/serving.py --model MODEL_DIR --cases slow,big      # only the two holds

MODEL_DIR is a folder written by `rlrt train` (for example `rlrt train --set rl.training.stop.training_iteration=2`
then `rlrt-jobs/<job>/model`). It measures, each next to in-process ONNX Runtime on the same input:

1. single-record ``/invocations`` latency p50/p99 at concurrency 8 over loopback (keep-alive connections; goal
   p99 <= 5 ms);
2. ``rlrt transform`` records/s over a JSON-lines file (goal >= 20,000/s);
3. a load run: 10,000 requests at concurrency 32, 5% of them malformed -> zero 5xx, the server alive, memory flat;
4. ``slow``: clients that send headers and 4 of 100 body bytes, then nothing, while /ping is asked every 0.1 s for
   longer than the read timeout -> /ping's latency (goal: < 2 s, SageMaker's contract), and what the slow clients
   got (408 or the connection closed) and when;
5. ``big``: one ~100 MB ``{"instances": [[...], ...]}`` body (4-decimal numbers; ``--big-decimals``) -> its time,
   the answer checked against ONNX Runtime, and the peak RSS of the workers (sampled every 20 ms; goal < 1 GB) and
   of the whole server.

The HTTP client is a small asyncio keep-alive client (raw HTTP/1.1) so the client costs little of the CPU it
shares with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from common import record

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    from runtime.cluster.node import free_ports

    return free_ports(1)[0]


def start_server(model: Path, port: int, workers: int, **extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        "PYTHONPATH": str(REPO),
        **extra,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "serve", "--model", str(model), "--host", "127.0.0.1"],
        env=env,
        cwd=str(REPO),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    raise SystemExit("the server did not start")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def server_rss_mb(process: subprocess.Popen) -> float:
    parent = psutil.Process(process.pid)
    return float(sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 2**20)


def request_bytes(port: int, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> int:
    writer.write(payload)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    close = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        if name.lower() == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    status = int(status_line.split()[1]) if status_line else 0
    return -status if close else status


async def run_clients(port: int, payloads: list[bytes], concurrency: int) -> tuple[list[float], list[int]]:
    """Send ``payloads`` over ``concurrency`` keep-alive connections; returns latencies (s) and statuses."""
    latencies: list[float] = [0.0] * len(payloads)
    statuses: list[int] = [0] * len(payloads)
    next_index = 0

    async def client() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < len(payloads):
                index = next_index
                next_index += 1
                started = time.perf_counter()
                status = await _one(reader, writer, payloads[index])
                latencies[index] = time.perf_counter() - started
                statuses[index] = abs(status)
                if status < 0 or status == 0:  # the server closed the connection: reconnect
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, statuses


def percentiles(values: list[float]) -> tuple[float, float]:
    ms = np.asarray(values) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench_latency(model: Path, port: int, requests_count: int, concurrency: int) -> dict:
    from runtime.serving.model_store import OnnxPolicy

    policy = OnnxPolicy(model)
    dim = policy.observation_dim
    rng = np.random.default_rng(0)
    observations = rng.standard_normal((requests_count, dim)).astype(np.float32).round(5)
    payloads = [
        request_bytes(port, json.dumps({"inputs": {"observations": [row]}}).encode()) for row in observations.tolist()
    ]
    asyncio.run(run_clients(port, payloads[:500], concurrency))  # warm-up
    sequential, _ = asyncio.run(run_clients(port, payloads[:2000], 1))
    started = time.perf_counter()
    latencies, statuses = asyncio.run(run_clients(port, payloads, concurrency))
    wall = time.perf_counter() - started
    assert all(s == 200 for s in statuses), set(statuses)
    in_process = []
    for row in observations[:5000]:
        t = time.perf_counter()
        policy.predict(row[None])
        in_process.append(time.perf_counter() - t)
    # The application alone (an in-process call, no HTTP, no server): the server's own CPU cost per request.
    from runtime.serving.app import InferenceApp, request

    app = InferenceApp(model)
    app.load()
    in_app = []

    async def app_alone() -> None:
        for row in observations[:5000].tolist():
            body = json.dumps({"inputs": {"observations": [row]}}).encode()
            t = time.perf_counter()
            await request(
                app,
                "POST",
                "/invocations",
                body,
                {"Content-Type": "application/json", "Content-Length": str(len(body))},
            )
            in_app.append(time.perf_counter() - t)

    asyncio.run(app_alone())
    p50, p99 = percentiles(latencies)
    i50, i99 = percentiles(in_process)
    a50, a99 = percentiles(in_app)
    s50, s99 = percentiles(sequential)
    return {
        "sequential_p50_ms": s50,
        "sequential_p99_ms": s99,
        "app_only_p50_ms": a50,
        "app_only_p99_ms": a99,
        "requests": requests_count,
        "concurrency": concurrency,
        "p50_ms": p50,
        "p99_ms": p99,
        "requests_per_s": requests_count / wall,
        "onnx_in_process_p50_ms": i50,
        "onnx_in_process_p99_ms": i99,
    }


def bench_transform(model: Path, records: int) -> dict:
    from runtime.serving.model_store import OnnxPolicy
    from runtime.serving.transform import TransformOptions, transform

    policy = OnnxPolicy(model, threads=min(4, os.cpu_count() or 1))
    dim = policy.observation_dim
    observations = np.random.default_rng(1).standard_normal((records, dim)).astype(np.float32).round(6)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in" / "env_states.json"
        source.parent.mkdir()
        source.write_text("".join(json.dumps(row) + "\n" for row in observations.tolist()))
        summary = transform(model, source.parent, Path(tmp) / "out", TransformOptions(), show_progress=False)
        single = transform(
            model, source.parent, Path(tmp) / "out1", TransformOptions(strategy="SingleRecord"), show_progress=False
        )
    started = time.perf_counter()
    for chunk in range(0, records, 8192):
        policy.predict(observations[chunk : chunk + 8192])
    ceiling = records / (time.perf_counter() - started)
    return {
        "records": records,
        "multirecord_records_per_s": summary.records_per_s,
        "singlerecord_records_per_s": single.records_per_s,
        "onnx_in_process_records_per_s": ceiling,
    }


def bench_load(model: Path, process: subprocess.Popen, port: int, total: int, concurrency: int) -> dict:
    from runtime.serving.codec import observation_dim_from_metadata
    from runtime.serving.model_store import read_metadata

    dim = observation_dim_from_metadata(read_metadata(model))
    rng = np.random.default_rng(2)
    bad_bodies = [
        b"{not json",
        json.dumps({"instances": [[1.0] * (dim + 1)]}).encode(),
        b'{"instances": [[NaN]]}',
        json.dumps({"inputs": {"obs": [[0] * dim]}}).encode(),
        b"\xff\xfe\x00",
    ]
    payloads, malformed = [], 0
    for i in range(total):
        if rng.random() < 0.05:
            payloads.append(request_bytes(port, bad_bodies[i % len(bad_bodies)]))
            malformed += 1
        else:
            instance = rng.standard_normal(dim).round(4).tolist()
            payloads.append(request_bytes(port, json.dumps({"instances": [instance]}).encode()))
    asyncio.run(run_clients(port, payloads[:1000], concurrency))  # warm-up (allocators, caches)
    rss_before = server_rss_mb(process)
    started = time.perf_counter()
    latencies, statuses = asyncio.run(run_clients(port, payloads, concurrency))
    wall = time.perf_counter() - started
    rss_after = server_rss_mb(process)
    asyncio.run(run_clients(port, payloads, concurrency))  # a second round: memory must not keep growing
    rss_after_2 = server_rss_mb(process)
    counts: dict[int, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    p50, p99 = percentiles(latencies)
    return {
        "requests": total,
        "concurrency": concurrency,
        "malformed_sent": malformed,
        "status_counts": counts,
        "5xx": sum(v for k, v in counts.items() if k >= 500),
        "alive": process.poll() is None,
        "rss_mb_before": rss_before,
        "rss_mb_after": rss_after,
        "rss_mb_after_second_round": rss_after_2,
        "requests_per_s": total / wall,
        "p50_ms": p50,
        "p99_ms": p99,
    }


def ping_ms(port: int, timeout: float = 10) -> float | None:
    """One /ping on a new connection: its latency in ms, None if it failed or took over ``timeout`` s."""
    import urllib.request

    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=timeout) as response:
            response.read()
            return (time.perf_counter() - started) * 1000 if response.status == 200 else None
    except OSError:
        return None


def bench_slow_clients(port: int, clients: int, seconds: float) -> dict:
    """``clients`` raw sockets send headers and 4 of 100 body bytes, then nothing; /ping every 0.1 s meanwhile."""
    import select

    slow = []
    for _ in range(clients):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n[[0,".encode()
        )
        slow.append((sock, time.monotonic()))
    pings: list[float | None] = []
    answers: dict[int, tuple[str, float]] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pings.append(ping_ms(port))
        for index, (sock, opened) in enumerate(slow):
            if index not in answers and select.select([sock], [], [], 0)[0]:
                data = sock.recv(200)
                answers[index] = (data.split(b"\r\n", 1)[0].decode() if data else "closed", time.monotonic() - opened)
        time.sleep(0.1)
    for sock, _ in slow:
        sock.close()
    answered = [p for p in pings if p is not None]
    return {
        "clients": clients,
        "seconds": seconds,
        "pings": len(pings),
        "pings_failed": len(pings) - len(answered),
        "ping_p50_ms": float(np.percentile(answered, 50)) if answered else None,
        "ping_max_ms": max(answered) if answered else None,
        "slow_clients_got": [answers.get(i, ("nothing", seconds)) for i in range(clients)],
    }


def worker_rss_mb(process: subprocess.Popen) -> tuple[float, float]:
    """(the largest worker's RSS, the whole server's RSS) in MB."""
    parent = psutil.Process(process.pid)
    sizes = []
    for child in parent.children(recursive=True):
        try:
            sizes.append(child.memory_info().rss)
        except psutil.Error:
            pass
    return max(sizes, default=0) / 2**20, (sum(sizes) + parent.memory_info().rss) / 2**20


def bench_big_body(model: Path, process: subprocess.Popen, port: int, megabytes: int, decimals: int = 4) -> dict:
    """One ~``megabytes`` MB JSON body of numbers with ``decimals`` decimals (fewer: more rows in the megabytes):
    time, the answer's correctness, and the peak RSS of workers and server."""
    import http.client
    import threading

    from runtime.serving.model_store import OnnxPolicy

    policy = OnnxPolicy(model)
    dim = policy.observation_dim
    rng = np.random.default_rng(3)
    row_bytes = len(json.dumps(rng.standard_normal((1000, dim)).round(decimals).tolist())) / 1000
    rows = int(megabytes * 2**20 * 0.995 / row_bytes)  # just under the limit (MaxPayloadInMB)
    observations = rng.standard_normal((rows, dim)).round(decimals)
    body = json.dumps({"instances": observations.tolist()}).encode()
    observations = observations.astype(np.float32)
    peaks = list(worker_rss_mb(process))
    before = list(peaks)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            worker, total = worker_rss_mb(process)
            peaks[0], peaks[1] = max(peaks[0], worker), max(peaks[1], total)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    try:
        connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        connection.close()
    result: dict[str, Any] = {
        "body_mb": len(body) / 2**20,
        "rows": rows,
        "status": response.status,
        "seconds": elapsed,
        "answer_mb": len(answer) / 2**20,
        "chunked": response.getheader("Transfer-Encoding") == "chunked",
        "worker_rss_mb_before": before[0],
        "worker_rss_mb_peak": peaks[0],
        "server_rss_mb_peak": peaks[1],
    }
    if response.status == 200:
        predictions = np.asarray(json.loads(answer)["predictions"], dtype=np.float32)
        sample_rows = np.random.default_rng(4).choice(rows, 2000, replace=False)
        expected = policy.predict(observations[sample_rows])
        from runtime.serving.codec import primary

        result["rows_answered"] = len(predictions)
        result["max_abs_error_vs_onnx"] = float(np.abs(predictions[sample_rows] - primary(expected)).max())
    else:
        result["error"] = answer[:300].decode(errors="replace")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument(
        "--cases",
        default="latency,load,transform,slow,big",
        help="comma-separated: latency, load, transform, slow, big (default: all)",
    )
    parser.add_argument("--slow-clients", type=int, default=2)
    parser.add_argument("--big-mb", type=int, default=100)
    parser.add_argument("--big-decimals", type=int, default=4, help="decimals of the big body's numbers (0: most rows)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from runtime.serving.model_store import locate_model

    cases = set(args.cases.split(","))
    model = locate_model(args.model)
    args.load_before = os.getloadavg()
    results: dict[str, dict] = {}
    port = free_port()
    process = start_server(model, port, args.workers)
    try:
        if "latency" in cases:
            results["latency"] = bench_latency(model, port, args.requests, 8)
        if "load" in cases:
            results["load"] = bench_load(model, process, port, 10000, 32)
        if "big" in cases:
            results["big"] = bench_big_body(model, process, port, args.big_mb, args.big_decimals)
        if "slow" in cases:  # longer than the read timeout (10 s by default): the slow clients' answers come
            results["slow"] = bench_slow_clients(port, args.slow_clients, 14)
        for name, result in results.items():
            print(name, json.dumps(result), flush=True)
        results["alive"] = {"alive": process.poll() is None}
    finally:
        stop_server(process)
    if "transform" in cases:
        results["transform"] = bench_transform(model, args.records)
        print("transform", json.dumps(results["transform"]), flush=True)
    args.load_after = os.getloadavg()
    if args.out:
        write_report(args, model, results)
    record_rows(results)
    return 0


def record_rows(results: dict[str, dict]) -> None:
    """The headline figure of each case that ran, in bench/results/results.json."""
    latency, slow, big = results.get("latency"), results.get("slow"), results.get("big")
    if latency:
        record(
            "serving-latency",
            f"{latency['p99_ms']:.2f} ms (p50 {latency['p50_ms']:.2f})",
            figure="/invocations p99, concurrency 8",
            goal="<= 5 ms",
            write_up="serving.md",
        )
    if slow and slow["ping_max_ms"] is not None:
        record(
            "serving-slow",
            f"p50 {slow['ping_p50_ms']:.1f} ms, max {slow['ping_max_ms']:.1f} ms, {slow['pings_failed']} failed",
            figure=f"/ping beside {slow['clients']} slow clients",
            goal="within 2 s",
            write_up="history.md",
        )
    if big and big["status"] == 200:
        record(
            "serving-big",
            f"{big['worker_rss_mb_peak']:.0f} MB",
            figure=f"{big['body_mb']:.0f} MB JSON body, worker peak RSS",
            goal="< ~1 GB",
            write_up="history.md",
        )


def write_report(args: argparse.Namespace, model: Path, results: dict[str, dict]) -> None:
    meta = json.loads((model / "metadata.json").read_text())
    lines = [
        "# Serving benchmarks",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared with other engineers' "
        f"work while measuring (noisy), Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"1-minute load average {args.load_before[0]:.1f} at the start and {args.load_after[0]:.1f} at the end "
        f"(runnable processes on 2 cores: the tail latencies below are mostly waiting for a core).",
        f"Model: {meta.get('env')} {meta.get('algorithm')} "
        f"({meta['serving']['inputs']['observations']['shape'][1]}-dim "
        f"observations), ONNX Runtime, `rlrt serve` with {args.workers} gunicorn worker(s) serving with hypercorn.",
        f"Command: `python bench/serving.py --model {args.model} --workers {args.workers} --requests {args.requests} "
        f"--records {args.records} --cases {args.cases} --big-mb {args.big_mb} --big-decimals {args.big_decimals} "
        f"--out {args.out}`",
        "",
        "| measurement | result | goal | in-process ONNX Runtime (ceiling) |",
        "| --- | --- | --- | --- |",
    ]
    latency, load, throughput = results.get("latency"), results.get("load"), results.get("transform")
    if latency:
        lines += [
            f"| /invocations single record, concurrency 8, {latency['requests']} requests: p50 / p99 | "
            f"{latency['p50_ms']:.2f} / {latency['p99_ms']:.2f} ms ({latency['requests_per_s']:,.0f} req/s) | "
            f"p99 <= 5 ms | {latency['onnx_in_process_p50_ms']:.3f} / {latency['onnx_in_process_p99_ms']:.3f} ms "
            "per call |",
            f"| /invocations single record, one connection (no queueing), 2000 requests: p50 / p99 | "
            f"{latency['sequential_p50_ms']:.2f} / {latency['sequential_p99_ms']:.2f} ms | | |",
            f"| the application alone (JSON parse, ONNX Runtime, JSON answer; no HTTP): p50 / p99 | "
            f"{latency['app_only_p50_ms']:.3f} / {latency['app_only_p99_ms']:.3f} ms | | |",
        ]
    if throughput:
        lines += [
            f"| `rlrt transform`, {throughput['records']:,} JSON-lines records, MultiRecord | "
            f"{throughput['multirecord_records_per_s']:,.0f} records/s | >= 20,000/s | "
            f"{throughput['onnx_in_process_records_per_s']:,.0f} records/s (8192-row batches) |",
            f"| `rlrt transform`, same records, SingleRecord | "
            f"{throughput['singlerecord_records_per_s']:,.0f} records/s | | |",
        ]
    if load:
        lines.append(
            f"| load: {load['requests']:,} requests, concurrency 32, {load['malformed_sent']} malformed | "
            f"5xx: {load['5xx']}; statuses {load['status_counts']}; server alive: {results['alive']['alive']}; "
            f"RSS {load['rss_mb_before']:.0f} -> {load['rss_mb_after']:.0f} -> {load['rss_mb_after_second_round']:.0f} "
            f"MB; {load['requests_per_s']:,.0f} req/s, p50 {load['p50_ms']:.2f} ms, p99 {load['p99_ms']:.2f} ms | "
            "zero 5xx, alive, memory flat | |"
        )
    slow, big = results.get("slow"), results.get("big")
    if slow:
        got = "; ".join(f"{what} after {after:.1f} s" for what, after in slow["slow_clients_got"])
        ping = (
            "none answered"
            if slow["ping_max_ms"] is None
            else f"p50 {slow['ping_p50_ms']:.1f} ms, max {slow['ping_max_ms']:.1f} ms"
        )
        lines.append(
            f"| {slow['clients']} slow clients (headers + 4 of 100 body bytes), /ping every 0.1 s for "
            f"{slow['seconds']} s "
            f"| /ping {ping}, {slow['pings_failed']} of {slow['pings']} failed; the slow clients got: {got} "
            "| /ping < 2 s; 408 or closed | |"
        )
    if big:
        answer = (
            f"{big.get('rows_answered', 0):,} predictions, max error vs ONNX {big['max_abs_error_vs_onnx']:.1e}"
            if big["status"] == 200
            else big.get("error", "")
        )
        lines.append(
            f"| one {big['body_mb']:.0f} MB JSON body ({big['rows']:,} rows) | {big['status']} in "
            f"{big['seconds']:.1f} s "
            f"({answer}; answer {big['answer_mb']:.0f} MB{', streamed' if big['chunked'] else ''}); worker RSS "
            f"{big['worker_rss_mb_before']:.0f} -> peak {big['worker_rss_mb_peak']:.0f} MB, server peak "
            f"{big['server_rss_mb_peak']:.0f} MB | worker < 1 GB, or 413 | |"
        )
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
