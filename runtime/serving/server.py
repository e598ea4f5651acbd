"""``rlrt serve``: the SageMaker inference HTTP contract on gunicorn, inference through ONNX Runtime.

- ``GET /ping`` -> 200 once the worker has loaded the model;
- ``POST /invocations`` -> the formats of :mod:`runtime.serving.codec` (400 ``{"error": ...}`` for bad input, 415 for
  other content types, 406 for an unanswerable ``Accept``, 413 for bodies over the limit);
- ``GET /execution-parameters`` -> what SageMaker Batch Transform asks a container for.

Settings come from SageMaker's variables: ``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS``
(the number of CPUs), ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s). The server reads the model once at start
(:class:`runtime.serving.model_store.ModelSnapshot`); every worker process builds its own ONNX Runtime session (one
intra-op thread each) from those bytes after the fork, so a worker gunicorn starts in place of a dead one serves the
same model even if the folder was replaced meanwhile. An error in a request never reaches gunicorn: the worker
answers it and keeps serving.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from sagemaker_training import params

from runtime.errors import UserError
from runtime.serving import codec
from runtime.serving.model_store import ModelSnapshot, OnnxPolicy, default_model_dir, locate_model, read_snapshot

log = logging.getLogger(__name__)

# sagemaker-inference-toolkit's names (sagemaker_inference.parameters MODEL_SERVER_WORKERS_ENV,
# MODEL_SERVER_TIMEOUT_ENV; that toolkit is not installed). The port is sagemaker-training's SAGEMAKER_BIND_TO_PORT_ENV.
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60
MAX_BODY_MB = 100  # SageMaker Batch Transform's largest MaxPayloadInMB; real-time endpoints cap requests at 6 MB


@dataclass(frozen=True)
class ServerSettings:
    """How ``rlrt serve`` runs."""

    model_dir: Path
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    workers: int = 1
    timeout_s: int = DEFAULT_TIMEOUT_S
    threads: int = 1
    max_body_mb: int = MAX_BODY_MB


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
    """Server settings: explicit arguments first, then SageMaker's variables, then defaults."""
    port = port if port is not None else _positive_int(params.SAGEMAKER_BIND_TO_PORT_ENV, DEFAULT_PORT)
    if not 0 < port < 65536:
        raise UserError(f"the port must be 1-65535, got {port}")
    return ServerSettings(
        model_dir=model_dir,
        host=host or "0.0.0.0",
        port=port,
        workers=workers if workers is not None else _positive_int(WORKERS_ENV, os.cpu_count() or 1),
        timeout_s=timeout_s if timeout_s is not None else _positive_int(TIMEOUT_ENV, DEFAULT_TIMEOUT_S),
    )


class InferenceApp:
    """The WSGI application (plain WSGI: the routes are three, and the request path stays short)."""

    def __init__(self, model: Path | ModelSnapshot, max_body_mb: int = MAX_BODY_MB, workers: int = 1) -> None:
        self.model = model
        self.max_body_bytes = max_body_mb * 1024 * 1024
        self.max_body_mb = max_body_mb
        self.workers = workers
        self.policy: OnnxPolicy | None = None

    def load(self) -> None:
        """Load the ONNX policy (in each worker, after the fork)."""
        if self.policy is None:
            self.policy = OnnxPolicy(self.model)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            status, body, content_type = self.handle(method, path, environ)
        except Exception as exc:  # noqa: BLE001 - one bad request never takes a worker down
            log.exception("unexpected error answering %s %s", method, path)
            status, body, content_type = 500, _error(f"internal error: {type(exc).__name__}: {exc}"), codec.JSON
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def handle(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        """Route one request: (status, body, content type)."""
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

    def invoke(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        """Answer ``POST /invocations``."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 400, _error("invalid Content-Length"), codec.JSON
        if length < 0:  # read(-1) would read the whole stream, past the body limit
            return 400, _error(f"invalid Content-Length {length}"), codec.JSON
        if length > self.max_body_bytes:
            return 413, _error(f"the request body is larger than {self.max_body_mb} MB"), codec.JSON
        if length:
            body = environ["wsgi.input"].read(length)
        else:  # chunked or unknown length: read at most one byte past the limit
            body = environ["wsgi.input"].read(self.max_body_bytes + 1)
            if len(body) > self.max_body_bytes:
                return 413, _error(f"the request body is larger than {self.max_body_mb} MB"), codec.JSON
        self.load()
        assert self.policy is not None
        try:
            decoded = codec.decode(body, environ.get("CONTENT_TYPE"), self.policy.observation_dim)
            accept_type = codec.response_type(environ.get("HTTP_ACCEPT"), decoded.content_type)
        except codec.RequestError as exc:
            return exc.status, _error(str(exc)), codec.JSON
        outputs = self.policy.predict(decoded.observations)
        return 200, codec.encode(outputs, decoded.style, accept_type), accept_type


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
            413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error"}


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def serve(settings: ServerSettings) -> int:
    """Run gunicorn in this process until SIGTERM/SIGINT; returns its exit code."""
    from gunicorn.app.base import BaseApplication  # heavy: gunicorn (rlrt serve only)

    # Fail fast on a model that cannot be served (a UserError here, not a crash loop of workers), without
    # starting ONNX Runtime in this process: its thread pools do not survive the fork into workers. The model is
    # read once, here: every worker (a replacement too) serves these bytes, whatever happens to the folder.
    snapshot = read_snapshot(settings.model_dir)
    metadata = snapshot.metadata
    app = InferenceApp(snapshot, settings.max_body_mb, settings.workers)
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": os.environ.get("RLRT_SERVER_WORKER_CLASS", "gthread"),
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
