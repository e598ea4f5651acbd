"""``rlrt serve``: the SageMaker inference HTTP contract (:mod:`runtime.serving.app`), inference through ONNX Runtime.

gunicorn runs the worker processes (it forks them, replaces one that dies, and stops one that stops answering its
heartbeat for the server timeout); each worker serves the ASGI application with hypercorn (asyncio, h11) on the
listening socket gunicorn opened, through gunicorn's documented worker plug-in (``worker_class``: a subclass of
``gunicorn.workers.base.Worker`` whose ``run`` is the worker's loop and which calls ``notify``) and hypercorn's
documented ``serve`` API. A connection costs a worker no thread: idle and half-sent connections wait in the event loop
and hypercorn closes them after its keep-alive timeout (5 s, from the connection's start until a request's headers are
complete); the application answers a body that pauses with a 408 and drops a client that does not take its answer.

Settings come from SageMaker's variables: ``SAGEMAKER_BIND_TO_PORT`` (8080), ``SAGEMAKER_MODEL_SERVER_WORKERS``
(the number of CPUs), ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (60 s); and ``RLRT_SERVER_THREADS`` (4 inference threads per
worker), ``RLRT_SERVER_READ_TIMEOUT`` (10 s). The server reads the model once at start
(:class:`runtime.serving.model_store.ModelSnapshot`); every worker process builds its own ONNX Runtime session (one
intra-op thread each) from those bytes after the fork, so a worker gunicorn starts in place of a dead one serves the
same model even if the folder was replaced meanwhile.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_training import params

from runtime.errors import UserError
from runtime.serving.app import DEFAULT_READ_TIMEOUT_S, DEFAULT_THREADS, DEFAULT_TIMEOUT_S, MAX_BODY_MB, InferenceApp
from runtime.serving.model_store import default_model_dir, locate_model, read_snapshot
from runtime.stop_signals import STOPS

log = logging.getLogger(__name__)

# sagemaker-inference-toolkit's names (sagemaker_inference.parameters MODEL_SERVER_WORKERS_ENV,
# MODEL_SERVER_TIMEOUT_ENV; that toolkit is not installed). The port is sagemaker-training's SAGEMAKER_BIND_TO_PORT_ENV.
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
THREADS_ENV = "RLRT_SERVER_THREADS"
READ_TIMEOUT_ENV = "RLRT_SERVER_READ_TIMEOUT"
DEFAULT_PORT = 8080
KEEP_ALIVE_S = 5  # hypercorn closes a connection that has no request under way for this long
GRACEFUL_S = 10  # on SIGTERM, requests under way get this long to finish
# Upper bounds: gunicorn forks every worker at start (a billion of them would fork until the machine gives out), and
# a timeout past a day is no timeout (gunicorn's heartbeat arithmetic overflows long before 1e20 s).
MAX_WORKERS = 256
MAX_TIMEOUT_S = 86_400
PORT_HINT = "choose another port with --port (or SAGEMAKER_BIND_TO_PORT)"


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


def _positive_int(name: str, default: int, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name} must be a positive integer, got {raw[:40]!r}") from None
    return _in_range(name, value, maximum)


def _in_range(name: str, value: int, maximum: int | None) -> int:
    """``value`` when it is 1..maximum, else a UserError naming the flag or variable and the range."""
    shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:12]}... ({len(str(value))} digits)"
    if value < 1:
        raise UserError(f"{name} must be a positive integer, got {shown}")
    if maximum is not None and value > maximum:
        raise UserError(f"{name} must be at most {maximum}, got {shown}")
    return value


def settings_from_environment(
    model_dir: Path,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    timeout_s: int | None = None,
) -> ServerSettings:
    """Server settings: explicit arguments first, then SageMaker's (and rlrt's) variables, then defaults."""
    port = port if port is not None else _positive_int(params.SAGEMAKER_BIND_TO_PORT_ENV, DEFAULT_PORT)
    if not 0 < port < 65536:
        raise UserError(f"the port must be 1-65535, got {port}")
    # 0 workers: gunicorn would wait for none; a 0 s timeout drops answers
    return ServerSettings(
        model_dir=model_dir,
        host=host or "0.0.0.0",
        port=port,
        workers=_in_range("--workers", workers, MAX_WORKERS)
        if workers is not None
        else _positive_int(WORKERS_ENV, min(os.cpu_count() or 1, MAX_WORKERS), MAX_WORKERS),
        timeout_s=_in_range("--timeout", timeout_s, MAX_TIMEOUT_S)
        if timeout_s is not None
        else _positive_int(TIMEOUT_ENV, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S),
        threads=_positive_int(THREADS_ENV, DEFAULT_THREADS),
        read_timeout_s=_positive_int(READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT_S),
    )


def check_bind(host: str, port: int) -> None:
    """Bind ``host:port`` once and let go, so that a busy port or an address this machine does not have is one
    UserError before the server starts (gunicorn itself retries for 5 s, then exits with only its own lines)."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise UserError(
            f"--host {host!r} is not an address or a name this machine can resolve ({exc}): give one "
            "of its addresses, e.g. 127.0.0.1 or 0.0.0.0 (all)"
        ) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(
                    f"port {port} is already in use on {host} (another server, perhaps another "
                    f"`rlrt serve`): stop it, or {PORT_HINT}"
                ) from None
            if exc.errno == errno.EACCES:
                raise UserError(f"cannot listen on {where}: ports below 1024 need root here; {PORT_HINT}") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise UserError(
                    f"--host {host} is not an address of this machine: give one of its addresses, "
                    "e.g. 127.0.0.1 or 0.0.0.0 (all)"
                ) from None
            raise UserError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def hypercorn_worker() -> type:
    """gunicorn's worker plug-in that serves the application (gunicorn's ``self.wsgi``, here an ASGI app) with
    hypercorn on the sockets gunicorn listens on, until gunicorn stops it (``alive``) or the master is gone."""
    from gunicorn.workers.base import Worker  # heavy: gunicorn (rlrt serve only)
    from hypercorn.asyncio import serve as serve_asgi  # heavy: hypercorn (rlrt serve only)
    from hypercorn.config import Config  # heavy: hypercorn (rlrt serve only)

    class HypercornWorker(Worker):
        def run(self) -> None:
            config = Config()
            # fd://: a socket already listening; a duplicate, as hypercorn closes the sockets it was given
            config.bind = [f"fd://{os.dup(sock.fileno())}" for sock in self.sockets]
            config.keep_alive_timeout = KEEP_ALIVE_S
            config.graceful_timeout = GRACEFUL_S
            config.accesslog = None
            config.loglevel = "WARNING"
            asyncio.run(serve_asgi(self.wsgi, config, shutdown_trigger=self.stopped, mode="asgi"))

        async def stopped(self) -> None:
            """Returns when gunicorn asks the worker to stop; meanwhile tells gunicorn the worker is alive."""
            while self.alive and self.ppid == os.getppid():
                self.notify()
                await asyncio.sleep(min(1.0, self.timeout / 4))

    return HypercornWorker


def serve(settings: ServerSettings) -> int:
    """Run gunicorn in this process until SIGTERM/SIGINT; returns its exit code."""
    from gunicorn.app.base import BaseApplication  # heavy: gunicorn (rlrt serve only)

    check_bind(settings.host, settings.port)
    # Fail fast on a model that cannot be served (a UserError here, not a crash loop of workers), without
    # starting ONNX Runtime in this process: its thread pools do not survive the fork into workers. The model is
    # read once, here: every worker (a replacement too) serves these bytes, whatever happens to the folder.
    snapshot = read_snapshot(settings.model_dir)
    metadata = snapshot.metadata
    app = InferenceApp(
        snapshot, settings.max_body_mb, settings.workers, settings.threads, settings.read_timeout_s, settings.timeout_s
    )
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": hypercorn_worker(),
        "timeout": settings.timeout_s,
        "graceful_timeout": GRACEFUL_S,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "rlrt-serve",
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


def run_server(
    model: Path | None, host: str | None, port: int | None, workers: int | None, timeout_s: int | None
) -> int:
    """``rlrt serve``: locate the model and serve it."""
    STOPS.release()  # gunicorn's arbiter handles SIGTERM (graceful) and SIGINT itself
    model_dir = locate_model(model or default_model_dir())
    return serve(settings_from_environment(model_dir, host, port, workers, timeout_s))
