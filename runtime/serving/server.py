"""``rlrt serve``: the SageMaker inference HTTP contract on gunicorn, inference through ONNX Runtime.

- ``GET /ping`` -> 200 once the worker has loaded the model;
- ``POST /invocations`` -> the formats of :mod:`runtime.serving.codec` (400 ``{"error": ...}`` for bad input, 415 for
  other content types, 406 for an unanswerable ``Accept``, 408 for a body that stops arriving, 413 for bodies over
  the limit);
- ``GET /execution-parameters`` -> what SageMaker Batch Transform asks a container for.

Settings come from SageMaker's variables: ``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS``
(the number of CPUs), ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s); and ``RLRT_SERVER_THREADS`` (4 per worker),
``RLRT_SERVER_READ_TIMEOUT`` (10 s). The server reads the model once at start
(:class:`runtime.serving.model_store.ModelSnapshot`); every worker process builds its own ONNX Runtime session (one
intra-op thread each) from those bytes after the fork, so a worker gunicorn starts in place of a dead one serves the
same model even if the folder was replaced meanwhile. An error in a request never reaches gunicorn: the worker
answers it and keeps serving. Slow or idle clients hold no worker (:func:`slow_client_safe_worker`); a large request
is read, predicted and answered a piece at a time, one at a time per worker, so its memory stays bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NoReturn

import numpy as np
from sagemaker_training import params

from runtime.errors import UserError
from runtime.serving import codec
from runtime.serving.model_store import ModelSnapshot, OnnxPolicy, default_model_dir, locate_model, read_snapshot

log = logging.getLogger(__name__)

# sagemaker-inference-toolkit's names (sagemaker_inference.parameters MODEL_SERVER_WORKERS_ENV,
# MODEL_SERVER_TIMEOUT_ENV; that toolkit is not installed). The port is sagemaker-training's SAGEMAKER_BIND_TO_PORT_ENV.
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
THREADS_ENV = "RLRT_SERVER_THREADS"
READ_TIMEOUT_ENV = "RLRT_SERVER_READ_TIMEOUT"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60
DEFAULT_THREADS = 4
DEFAULT_READ_TIMEOUT_S = 10
MAX_BODY_MB = 100  # SageMaker Batch Transform's largest MaxPayloadInMB; real-time endpoints cap requests at 6 MB
GENERAL_PARSE_MB = 16  # larger JSON bodies must be rows of plain numbers (codec.decode's fast path), else 413
LARGE_BODY_BYTES = 1 << 20  # requests with larger (or unknown-length) bodies run one at a time per worker
PREDICT_ROWS = 16384  # ONNX Runtime's memory grows with the batch: larger requests are predicted in such batches
BUFFERED_ANSWER_BYTES = 8 << 20  # larger answers are streamed (chunked transfer encoding), not held whole


@dataclass(frozen=True)
class ServerSettings:
    """How ``rlrt serve`` runs."""

    model_dir: Path
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    workers: int = 1
    timeout_s: int = DEFAULT_TIMEOUT_S
    threads: int = DEFAULT_THREADS
    max_body_mb: int = MAX_BODY_MB
    read_timeout_s: int = DEFAULT_READ_TIMEOUT_S


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise UserError(f"{name} must be a positive integer, got {raw!r}")
    return value


def settings_from_environment(model_dir: Path, host: str | None = None, port: int | None = None,
                              workers: int | None = None, timeout_s: int | None = None) -> ServerSettings:
    """Server settings: explicit arguments first, then SageMaker's (and rlrt's) variables, then defaults."""
    port = port if port is not None else _positive_int(params.SAGEMAKER_BIND_TO_PORT_ENV, DEFAULT_PORT)
    if not 0 < port < 65536:
        raise UserError(f"the port must be 1-65535, got {port}")
    return ServerSettings(
        model_dir=model_dir,
        host=host or "0.0.0.0",
        port=port,
        workers=workers if workers is not None else _positive_int(WORKERS_ENV, os.cpu_count() or 1),
        timeout_s=timeout_s if timeout_s is not None else _positive_int(TIMEOUT_ENV, DEFAULT_TIMEOUT_S),
        threads=_positive_int(THREADS_ENV, DEFAULT_THREADS),
        read_timeout_s=_positive_int(READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT_S),
    )


class InferenceApp:
    """The WSGI application (plain WSGI: the routes are three, and the request path stays short)."""

    def __init__(self, model: Path | ModelSnapshot, max_body_mb: int = MAX_BODY_MB, workers: int = 1) -> None:
        self.model = model
        self.max_body_bytes = max_body_mb * 1024 * 1024
        self.max_body_mb = max_body_mb
        self.workers = workers
        self.policy: OnnxPolicy | None = None
        self.large = threading.Lock()  # one large request at a time: its memory, not several

    def load(self) -> None:
        """Load the ONNX policy (in each worker, after the fork)."""
        if self.policy is None:
            self.policy = OnnxPolicy(self.model)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            status, answer, content_type = self.handle(method, path, environ)
            pieces, rest = _first_pieces(answer)
        except Exception as exc:  # noqa: BLE001 - one bad request never takes a worker down
            log.exception("unexpected error answering %s %s", method, path)
            status, content_type = 500, codec.JSON
            pieces, rest = [_error(f"internal error: {type(exc).__name__}: {exc}")], None
        headers = [("Content-Type", content_type)]
        if rest is None:  # else a streamed answer: gunicorn sends it chunked
            headers.append(("Content-Length", str(sum(map(len, pieces)))))
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return pieces if rest is None else _then(itertools.chain(pieces, rest), getattr(rest, "close"))

    def handle(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, bytes | Iterator[bytes], str]:
        """Route one request: (status, body or its pieces, content type)."""
        path = path.rstrip("/") or "/"
        if path == "/invocations":
            if method != "POST":
                return 405, _error("use POST /invocations"), codec.JSON
            return self.invoke(environ)
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return 405, _error("use GET /ping"), codec.JSON
            self.load()
            return 200, b'{"status": "healthy"}', codec.JSON
        if path == "/execution-parameters" and method == "GET":
            return 200, json.dumps({"MaxConcurrentTransforms": self.workers, "BatchStrategy": "MULTI_RECORD",
                                    "MaxPayloadInMB": min(self.max_body_mb, 100)}).encode(), codec.JSON
        return 404, _error(f"no route {method} {path}; use GET /ping or POST /invocations"), codec.JSON

    def invoke(self, environ: dict[str, Any]) -> tuple[int, bytes | Iterator[bytes], str]:
        """Answer ``POST /invocations``; a large request waits for the worker's other large one to be answered."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 400, _error("invalid Content-Length"), codec.JSON
        if length < 0:  # read(-1) would read the whole stream, past the body limit
            return 400, _error(f"invalid Content-Length {length}"), codec.JSON
        if length > self.max_body_bytes:
            return 413, _error(f"the request body is larger than {self.max_body_mb} MB"), codec.JSON
        if 0 < length <= LARGE_BODY_BYTES:
            return self.answer(environ, length)
        self.large.acquire()  # until the answer is sent (_then)
        try:
            status, answer, content_type = self.answer(environ, length)
        except BaseException:
            self.large.release()
            raise
        return status, _then(answer, self.large.release), content_type

    def answer(self, environ: dict[str, Any], length: int) -> tuple[int, bytes | Iterator[bytes], str]:
        """Read, decode, predict; the answer's pieces (encoded as they are sent)."""
        try:  # no length (chunked): read at most one byte past the limit
            body = environ["wsgi.input"].read(length or self.max_body_bytes + 1)
        except OSError as exc:  # the worker's read timeout (a TimeoutError), or a client gone mid-body
            if isinstance(exc, TimeoutError):
                return 408, _error("the request body stopped arriving: send it without pausing"), codec.JSON
            return 400, _error("the request body was cut short: the client closed the connection"), codec.JSON
        if len(body) > self.max_body_bytes:
            return 413, _error(f"the request body is larger than {self.max_body_mb} MB"), codec.JSON
        self.load()
        assert self.policy is not None
        try:
            decoded = codec.decode(body, environ.get("CONTENT_TYPE"), self.policy.observation_dim,
                                   GENERAL_PARSE_MB << 20)
            accept_type = codec.response_type(environ.get("HTTP_ACCEPT"), decoded.content_type)
        except codec.RequestError as exc:
            return exc.status, _error(str(exc)), codec.JSON
        del body
        outputs = predict_in_batches(self.policy, decoded.observations)
        if len(decoded.observations) <= PREDICT_ROWS:  # a small answer at once
            return 200, codec.encode(outputs, decoded.style, accept_type), accept_type
        return 200, codec.encode_pieces(outputs, decoded.style, accept_type), accept_type


def predict_in_batches(policy: OnnxPolicy, observations: np.ndarray) -> dict[str, np.ndarray]:
    """The policy's outputs for ``observations``, :data:`PREDICT_ROWS` at a time."""
    if len(observations) <= PREDICT_ROWS:
        return policy.predict(observations)
    outputs: dict[str, np.ndarray] = {}
    for start in range(0, len(observations), PREDICT_ROWS):
        for name, value in policy.predict(observations[start:start + PREDICT_ROWS]).items():
            if name not in outputs:
                outputs[name] = np.empty((len(observations), *value.shape[1:]), dtype=value.dtype)
            outputs[name][start:start + len(value)] = value
    return outputs


def _first_pieces(answer: bytes | Iterator[bytes]) -> tuple[list[bytes], Iterator[bytes] | None]:
    """The answer's pieces up to :data:`BUFFERED_ANSWER_BYTES`, and the rest (None: that was all)."""
    if isinstance(answer, bytes):
        return [answer], None
    pieces: list[bytes] = []
    for piece in answer:
        pieces.append(piece)
        if sum(map(len, pieces)) > BUFFERED_ANSWER_BYTES:
            return pieces, answer
    return pieces, None


def _then(pieces: bytes | Iterator[bytes], done: Callable[[], Any]) -> Iterator[bytes]:
    try:
        yield from [pieces] if isinstance(pieces, bytes) else pieces
    finally:
        done()


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
            408: "Request Timeout", 413: "Payload Too Large", 415: "Unsupported Media Type",
            500: "Internal Server Error"}


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def slow_client_safe_worker(read_timeout_s: float, write_timeout_s: float) -> type:
    """gunicorn's gthread worker, which no slow or idle client holds (gthread reads requests with no timeout, and
    closes connections on its main thread, lingering up to 2 s for the client's FIN): it takes connections only
    while a thread is free; a read waits at most ``read_timeout_s`` and none starts once a request's headers took
    that long (408) or its body ``write_timeout_s`` (the app answers 408); a write waits at most ``write_timeout_s``;
    connections close in the pool's threads. The waits are the kernel's (SO_RCVTIMEO, SO_SNDTIMEO, set once)."""
    from gunicorn.http.errors import NoMoreData  # heavy: gunicorn (rlrt serve only)
    from gunicorn.http.parser import RequestParser  # heavy: gunicorn (rlrt serve only)
    from gunicorn.http.unreader import SocketUnreader  # heavy: gunicorn (rlrt serve only)
    from gunicorn.workers.gthread import TConn, ThreadWorker  # heavy: gunicorn (rlrt serve only)

    late = _error(f"the request's headers did not arrive within {read_timeout_s:g} s")
    late = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n" \
        b"Content-Length: %d\r\n\r\n%s" % (len(late), late)

    class ReadTimeout(NoMoreData, TimeoutError):
        """A client too slow: gunicorn closes its connection quietly (NoMoreData), stops draining it (TimeoutError)."""

    class DeadlineReader(SocketUnreader):
        """The socket reads of one connection, each request's under its deadline (its headers', then its body's)."""

        deadline: float | None = None  # the headers': read_timeout_s from their first read
        in_body = started = False

        def next_request(self) -> None:
            self.deadline, self.in_body, self.started = None, False, False

        def body_starts(self) -> None:
            self.deadline, self.in_body = time.monotonic() + write_timeout_s, True

        def chunk(self, size_hint: int | None = None) -> bytes:
            self.deadline = self.deadline or time.monotonic() + read_timeout_s
            if time.monotonic() > self.deadline:
                self.give_up()
            try:
                data = super().chunk(size_hint)
            except (BlockingIOError, TimeoutError):  # SO_RCVTIMEO, or gunicorn's own timeout (its body drain)
                self.give_up()
            self.started = self.started or bool(data)
            return data

        def give_up(self) -> NoReturn:
            if self.started and not self.in_body:  # half a request's headers: say why the connection closes
                with contextlib.suppress(OSError):
                    self.sock.settimeout(1)
                    self.sock.sendall(late)
            raise ReadTimeout(b"(too slow)")

    class Connection(TConn):
        def wait_for_data(self, timeout: float) -> bool:  # gthread's 5 s: an idle client waits in the poller instead
            return bool(super().wait_for_data(min(timeout, 0.5)))

        def init(self) -> None:
            fresh = self.parser is None
            super().init()
            if fresh and isinstance(self.parser, RequestParser) and type(self.parser.unreader) is SocketUnreader:
                self.parser.unreader = DeadlineReader(self.sock)

    class Worker(ThreadWorker):
        busy = 0  # connections in the pool's threads (counted on the main thread)

        def accept(self, listener: Any) -> None:  # ThreadWorker.accept, with a Connection
            try:
                client, address = listener.accept()
            except (BlockingIOError, ConnectionAbortedError):  # another worker took it, or the client left
                return
            self.nr_conns += 1
            client.setblocking(True)
            for option, seconds in ((socket.SO_RCVTIMEO, read_timeout_s), (socket.SO_SNDTIMEO, write_timeout_s)):
                client.setsockopt(socket.SOL_SOCKET, option, struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))
            self.enqueue_req(Connection(self.cfg, client, address, listener.getsockname()))

        def set_accept_enabled(self, enabled: bool) -> None:
            super().set_accept_enabled(enabled and self.busy < self.cfg.threads)

        def enqueue_req(self, conn: Any) -> None:
            self.busy += 1
            if self.busy >= self.cfg.threads:
                self.set_accept_enabled(False)
            super().enqueue_req(conn)

        def finish_request(self, conn: Any, fs: Any) -> None:
            self.busy -= 1
            if getattr(conn, "closed_here", False):
                self.nr_conns -= 1
            else:
                super().finish_request(conn, fs)

        def handle(self, conn: Any) -> Any:
            if isinstance(getattr(conn.parser, "unreader", None), DeadlineReader):  # None for a new connection
                conn.parser.unreader.next_request()
            result = super().handle(conn)
            if result is False:  # gunicorn would close it on the main thread, lingering for a client's FIN
                conn.close(graceful=True)
                conn.closed_here = True
            return result

        def handle_request(self, req: Any, conn: Any) -> bool:
            reader = conn.parser.unreader
            if isinstance(reader, DeadlineReader):
                reader.body_starts()
            try:
                return super().handle_request(req, conn)
            except (BlockingIOError, TimeoutError):  # SO_SNDTIMEO
                self.log.warning("rlrt: a client did not take its answer within %s s; connection closed",
                                 write_timeout_s)
                return False

    return Worker


def serve(settings: ServerSettings) -> int:
    """Run gunicorn in this process until SIGTERM/SIGINT; returns its exit code."""
    from gunicorn.app.base import BaseApplication  # heavy: gunicorn (rlrt serve only)

    # Fail fast on a model that cannot be served (a UserError here, not a crash loop of workers), without
    # starting ONNX Runtime in this process: its thread pools do not survive the fork into workers. The model is
    # read once, here: every worker (a replacement too) serves these bytes, whatever happens to the folder.
    snapshot = read_snapshot(settings.model_dir)
    metadata = snapshot.metadata
    app = InferenceApp(snapshot, settings.max_body_mb, settings.workers)
    worker_class = os.environ.get("RLRT_SERVER_WORKER_CLASS") or slow_client_safe_worker(settings.read_timeout_s,
                                                                                         settings.timeout_s)
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": worker_class,
        "threads": settings.threads,
        "timeout": settings.timeout_s,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "rlrt-serve",
        "post_worker_init": lambda worker: app.load(),
        "when_ready": lambda server: print(
            f"rlrt: serving {metadata.get('env')} ({metadata.get('algorithm')}) from {settings.model_dir} on "
            f"http://{settings.host}:{settings.port} with {settings.workers} worker(s); GET /ping, POST /invocations",
            flush=True,
        ),
    }

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    started = time.monotonic()
    Server().run()
    log.info("server stopped after %.0f s", time.monotonic() - started)
    return 0


def run_server(model: Path | None, host: str | None, port: int | None, workers: int | None,
               timeout_s: int | None) -> int:
    """``rlrt serve``: locate the model and serve it."""
    model_dir = locate_model(model or default_model_dir())
    return serve(settings_from_environment(model_dir, host, port, workers, timeout_s))
