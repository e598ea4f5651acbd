"""The inference application behind ``rlrt serve``: SageMaker's HTTP contract as a plain ASGI application.

- ``GET /ping`` -> 200 once the model is loaded;
- ``POST /invocations`` -> the formats of :mod:`runtime.serving.codec` (400 ``{"error": ...}`` for bad input, 415 for
  other content types, 406 for an unanswerable ``Accept``, 408 for a body that stops arriving, 413 for bodies over
  the limit); a body with ``Content-Encoding: gzip`` is decompressed first (the limit is on its decompressed size);
- ``GET /execution-parameters`` -> what SageMaker Batch Transform asks a container for.

The application owns the limits that are about requests, not connections: the body limit (read in the pieces the
server hands over, 413 past it), how long a body may pause (408), and how long a client may take to take a piece of
its answer (then it is dropped). A request of a few rows is answered on the event loop; a larger one is decoded,
predicted and encoded in a pool of threads, so the loop keeps answering ``/ping`` meanwhile; one large request runs at
a time, so its memory is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Mapping, TypeVar

import numpy as np

from runtime.serving import codec
from runtime.serving.coach import coach_observation
from runtime.serving.model_store import ModelSnapshot, OnnxPolicy

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60
DEFAULT_THREADS = 4
DEFAULT_READ_TIMEOUT_S = 10
MAX_BODY_MB = 100  # SageMaker Batch Transform's largest MaxPayloadInMB; real-time endpoints cap requests at 6 MB
GENERAL_PARSE_MB = 16  # larger JSON bodies must be rows of plain numbers (codec.decode's fast path), else 413
INLINE_BODY_BYTES = 16 << 10  # smaller bodies (a few rows) are answered on the event loop: cheaper than a thread
LARGE_BODY_BYTES = 1 << 20  # requests with larger (or unknown-length) bodies run one at a time per worker
PREDICT_ROWS = 16384  # ONNX Runtime's memory grows with the batch: larger requests are predicted in such batches
BUFFERED_ANSWER_BYTES = 8 << 20  # larger answers are streamed (chunked transfer encoding), not held whole

Answer = tuple[int, "bytes | Iterator[bytes]", str]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
T = TypeVar("T")


class InferenceApp:
    """The ASGI application: one per worker process (the model is loaded in the worker, at the server's start-up)."""

    def __init__(
        self,
        model: Path | ModelSnapshot,
        max_body_mb: int = MAX_BODY_MB,
        workers: int = 1,
        threads: int = DEFAULT_THREADS,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.model = model
        self.max_body_bytes = max_body_mb * 1024 * 1024
        self.max_body_mb = max_body_mb
        self.workers = workers
        self.threads = threads
        self.read_timeout_s = read_timeout_s
        self.timeout_s = timeout_s
        self.policy: OnnxPolicy | None = None
        self.large = asyncio.Lock()  # one large request at a time: its memory, not several
        self._pool: ThreadPoolExecutor | None = None  # made on first use: in the worker, after the fork

    def load(self) -> None:
        """Load the ONNX policy (in each worker, after the fork)."""
        if self.policy is None:
            self.policy = OnnxPolicy(self.model)

    async def _in_pool(self, function: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="rlrt-inference")
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        length = headers.get("content-length", "")
        large = (
            method == "POST"
            and path == "/invocations"
            and not (length.isdigit() and 0 < int(length) <= LARGE_BODY_BYTES)
        )
        rest: Iterator[bytes] | None = None
        async with self.large if large else contextlib.nullcontext():
            try:
                status, answer, content_type = await self.handle(method, path, headers, receive)
                pieces, rest = (
                    ([answer], None) if isinstance(answer, bytes) else await self._in_pool(_first_pieces, answer)
                )
            except Exception as exc:  # one bad request never takes a worker down
                log.exception("unexpected error answering %s %s", method, path)
                status, content_type = 500, codec.JSON
                pieces, rest = [_error(f"internal error: {type(exc).__name__}: {exc}")], None
            try:
                await self._respond(send, receive, status, content_type, pieces, rest)
            except TimeoutError:  # the connection closes when the application returns with its answer unfinished
                log.warning("a client did not take its answer within %s s; connection closed", self.timeout_s)
            finally:
                if rest is not None:
                    with contextlib.suppress(ValueError):  # still running in the pool: cancelled at shutdown
                        getattr(rest, "close", lambda: None)()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.load()
                except Exception as exc:  # noqa: BLE001 - the server reports it and stops the worker
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _respond(
        self,
        send: Send,
        receive: Receive,
        status: int,
        content_type: str,
        pieces: list[bytes],
        rest: Iterator[bytes] | None,
    ) -> None:
        """Send the answer; a piece the client does not take within the server timeout raises TimeoutError. A
        streamed answer stops when the client leaves (the server reports ``http.disconnect`` and would drop what is
        sent after it); an error's watch also reads the rest of a body left unread (408, 413), so the client,
        still sending, gets to read its answer."""

        async def message(**fields: Any) -> None:
            async with asyncio.timeout(self.timeout_s):
                await send(fields)

        async def until_gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        gone = asyncio.ensure_future(until_gone()) if rest is not None or status >= 400 else None
        try:
            headers = [(b"content-type", content_type.encode())]
            if rest is None:  # else a streamed answer: the server sends it chunked
                headers.append((b"content-length", str(sum(map(len, pieces))).encode()))
            await message(type="http.response.start", status=status, headers=headers)
            for piece in pieces:
                if gone is not None and gone.done():
                    return
                await message(type="http.response.body", body=piece, more_body=True)
            while rest is not None and not (gone is not None and gone.done()):
                piece = await self._in_pool(next, rest, None)
                if piece is None:
                    break
                await message(type="http.response.body", body=piece, more_body=True)
            await message(type="http.response.body", body=b"", more_body=False)
        finally:
            if gone is not None:
                gone.cancel()

    async def handle(self, method: str, path: str, headers: Mapping[str, str], receive: Receive) -> Answer:
        """Route one request: (status, body or its pieces, content type)."""
        if path == "/invocations":
            if method != "POST":
                return 405, _error("use POST /invocations"), codec.JSON
            return await self.invoke(headers, receive)
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return 405, _error("use GET /ping"), codec.JSON
            self.load()
            return 200, b'{"status": "healthy"}', codec.JSON
        if path == "/execution-parameters" and method == "GET":
            return (
                200,
                json.dumps(
                    {
                        "MaxConcurrentTransforms": self.workers,
                        "BatchStrategy": "MULTI_RECORD",
                        "MaxPayloadInMB": min(self.max_body_mb, 100),
                    }
                ).encode(),
                codec.JSON,
            )
        return 404, _error(f"no route {method} {path}; use GET /ping or POST /invocations"), codec.JSON

    async def invoke(self, headers: Mapping[str, str], receive: Receive) -> Answer:
        """Answer ``POST /invocations``: read the body, then decode, predict and encode in the pool."""
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            return 400, _error("invalid Content-Length"), codec.JSON
        if length < 0:
            return 400, _error(f"invalid Content-Length {length}"), codec.JSON
        if length > self.max_body_bytes:
            return 413, _error(f"the request body is larger than {self.max_body_mb} MB"), codec.JSON
        body = await self.read_body(receive)
        if not isinstance(body, bytes):
            return body
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        if encoding != "identity":
            try:
                body = await self._in_pool(decompressed, body, encoding, self.max_body_mb)
            except codec.RequestError as exc:
                return exc.status, _error(str(exc)), codec.JSON
        if len(body) <= INLINE_BODY_BYTES:
            return self.answer(body, headers.get("content-type"), headers.get("accept"))
        return await self._in_pool(self.answer, body, headers.get("content-type"), headers.get("accept"))

    async def read_body(self, receive: Receive) -> bytes | Answer:
        """The request body; or a 408 when it pauses for the read timeout (or takes the server timeout in all), a
        400 when the client leaves, a 413 past the limit (whatever the declared length said)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        body = bytearray()
        while True:
            try:
                async with asyncio.timeout(min(self.read_timeout_s, deadline - loop.time())):
                    message = await receive()
            except TimeoutError:
                return 408, _error("the request body stopped arriving: send it without pausing"), codec.JSON
            if message["type"] == "http.disconnect":
                return 400, _error("the request body was cut short: the client closed the connection"), codec.JSON
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                return 413, _error(f"the request body is larger than {self.max_body_mb} MB"), codec.JSON
            if not message.get("more_body", False):
                return bytes(body)

    def answer(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        """Decode, predict; the answer's pieces (encoded as they are sent)."""
        self.load()
        assert self.policy is not None
        try:
            coach = self.policy.coach  # a Coach model answers a bare JSON list observation as Coach's serving did
            observation = (
                None if coach is None else coach_observation(body, content_type, accept, self.policy.observation_dim)
            )
            if coach is not None and observation is not None:
                return 200, coach.answer(observation), codec.JSON
            decoded = codec.decode(body, content_type, self.policy.observation_dim, GENERAL_PARSE_MB << 20)
            accept_type = codec.response_type(accept, decoded.content_type)
        except codec.RequestError as exc:
            return exc.status, _error(str(exc)), codec.JSON
        del body
        outputs = predict_in_batches(self.policy, decoded.observations)
        if len(decoded.observations) <= PREDICT_ROWS:  # a small answer at once
            return 200, codec.encode(outputs, decoded.style, accept_type), accept_type
        return 200, codec.encode_pieces(outputs, decoded.style, accept_type), accept_type


class BodyTooLarge(codec.RequestError):
    status = 413


def decompressed(body: bytes, encoding: str, limit_mb: int) -> bytes:
    """A gzip body (``Content-Encoding: gzip``, as SageMaker clients may send) decompressed, at most ``limit_mb`` of
    it: the body limit is on what the model reads, so a small body that inflates past it (a gzip bomb) is a 413
    found after ``limit_mb`` is inflated, not after all of it. Another encoding is a 415 naming it."""
    if encoding not in ("gzip", "x-gzip"):
        raise codec.UnsupportedContentType(
            f"Content-Encoding {encoding!r} is not supported: send the body "
            "uncompressed, or gzip-compressed with Content-Encoding: gzip"
        )
    limit = limit_mb << 20
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip's header and trailer
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise codec.RequestError(f"the body is not valid gzip (Content-Encoding: gzip): {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(f"the request body is larger than {limit_mb} MB once decompressed (Content-Encoding: gzip)")
    if not inflater.eof:
        raise codec.RequestError("the gzip body (Content-Encoding: gzip) is cut short: send the whole file")
    return out


def predict_in_batches(policy: OnnxPolicy, observations: np.ndarray) -> dict[str, np.ndarray]:
    """The policy's outputs for ``observations``, :data:`PREDICT_ROWS` at a time."""
    if len(observations) <= PREDICT_ROWS:
        return policy.predict(observations)
    outputs: dict[str, np.ndarray] = {}
    for start in range(0, len(observations), PREDICT_ROWS):
        for name, value in policy.predict(observations[start : start + PREDICT_ROWS]).items():
            if name not in outputs:
                outputs[name] = np.empty((len(observations), *value.shape[1:]), dtype=value.dtype)
            outputs[name][start : start + len(value)] = value
    return outputs


async def request(
    app: InferenceApp, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request to ``app`` in this process, without a server (tests, benchmarks): status, headers, body."""
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not incoming:  # the client stays until it has its answer
            await asyncio.Event().wait()
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()],
    }
    await app(scope, receive, send)
    answer_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in sent[0]["headers"]}
    return sent[0]["status"], answer_headers, b"".join(m.get("body", b"") for m in sent[1:])


def call(
    app: InferenceApp, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """:func:`request` from synchronous code (its own event loop)."""
    return asyncio.run(request(app, method, path, body, headers))


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


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
