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
        413,
        "the request body is larger than 1 MB once decompressed (Content-Encoding: gzip)",
    )

    status, _, payload = call(app, "POST", "/invocations", plain, {**json_type, "Content-Encoding": "gzip"})
    assert status == 400 and "not valid gzip" in json.loads(payload)["error"]
    status, _, payload = call(
        app, "POST", "/invocations", gzip.compress(plain)[:-12], {**json_type, "Content-Encoding": "gzip"}
    )
    assert status == 400 and "cut short" in json.loads(payload)["error"]
    status, _, payload = call(app, "POST", "/invocations", plain, {**json_type, "Content-Encoding": "br"})
    assert status == 415 and "Content-Encoding 'br' is not supported" in json.loads(payload)["error"]


def test_transform_with_split_none_reads_a_jsonl_file_as_serve_reads_it(cartpole_model: Path, tmp_path: Path) -> None:
    """A ``.jsonl`` file (one observation a line) as one request (``split_type None``): the answer is the one
    ``POST /invocations`` gives the same body (before: transform parsed it as one JSON document and failed at the
    second line)."""
    from runtime.serving.app import InferenceApp, call
    from runtime.serving.transform import TransformOptions, transform

    body = b'[0.0, 0.1, 0.0, -0.1]\n[0.02, 0.0, 0.01, 0.0]\n{"observations": [0.0, 0.0, 0.0, 0.0]}\n'
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "states.jsonl").write_bytes(body)
    summary = transform(
        cartpole_model / "model",
        tmp_path / "in",
        tmp_path / "out",
        TransformOptions(split_type="None"),
        show_progress=False,
    )
    assert summary.records == 3
    served = call(
        InferenceApp(cartpole_model / "model"),
        "POST",
        "/invocations",
        body,
        {"Content-Type": "application/jsonlines", "Accept": "application/json"},
    )
    assert served[0] == 200
    assert json.loads((tmp_path / "out" / "states.jsonl.out").read_text()) == json.loads(served[2])
