"""Request bodies ``rlrt serve`` reads: ``Content-Encoding: gzip`` (SageMaker clients can send it) is decompressed,
within the body limit on its decompressed size (a gzip bomb is a 413 after the limit, not after all of it); another
encoding is a 415 naming it (before: the compressed bytes were parsed as the content type: a 400 about JSON). The ASGI
application itself, called in-process on the shared trained model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401 - fixtures

ROWS = {"instances": [[0.0, 0.1, 0.0, -0.1], [0.02, 0.0, 0.01, 0.0]]}


def test_gzip_bodies_are_read_and_other_encodings_named(cartpole_model: Path) -> None:
    from runtime.serving.app import InferenceApp, call

    app = InferenceApp(cartpole_model / "model", max_body_mb=1)
    plain = json.dumps(ROWS).encode()
    json_type = {"Content-Type": "application/json"}
    expected = call(app, "POST", "/invocations", plain, json_type)
    assert expected[0] == 200
    answer = call(app, "POST", "/invocations", gzip.compress(plain), {**json_type, "Content-Encoding": "gzip"})
    assert (answer[0], answer[2]) == (200, expected[2])

    bomb = gzip.compress(b" " * (3 << 20))  # 3 MB of spaces in a few KB
    assert len(bomb) < 2**20
    status, _, payload = call(app, "POST", "/invocations", bomb, {**json_type, "Content-Encoding": "gzip"})
    assert (status, json.loads(payload)["error"]) == (
        413, "the request body is larger than 1 MB once decompressed (Content-Encoding: gzip)")

    status, _, payload = call(app, "POST", "/invocations", plain, {**json_type, "Content-Encoding": "gzip"})
    assert status == 400 and "not valid gzip" in json.loads(payload)["error"]
    status, _, payload = call(app, "POST", "/invocations", gzip.compress(plain)[:-12],
                              {**json_type, "Content-Encoding": "gzip"})
    assert status == 400 and "cut short" in json.loads(payload)["error"]
    status, _, payload = call(app, "POST", "/invocations", plain, {**json_type, "Content-Encoding": "br"})
    assert status == 415 and "Content-Encoding 'br' is not supported" in json.loads(payload)["error"]
