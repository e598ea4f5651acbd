"""`rlrt serve`: the real server (gunicorn workers serving with hypercorn) on a loopback port, answering the SageMaker
/ping and /invocations contract."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import psutil
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.cluster.node import free_ports
from runtime.serving import codec, number_rows

from tests.conftest import run_rlrt, start_rlrt
from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401

SEED_REQUEST = {
    "inputs": {
        "observations": [[1.0, 1.0, 1.0, 1.0]],
        "prev_action": [0, 0],
        "is_training": False,
        "prev_reward": -1,
        "seq_lens": -1,
    }
}


def free_port() -> int:
    return free_ports(1)[0]


def stop(process: subprocess.Popen) -> int:
    """SIGTERM the server's process group and wait (SIGKILL if it does not stop)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


def wait_until_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/ping", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not answer /ping within {timeout} s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(cartpole_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = start_rlrt(
        ["serve", "--host", "127.0.0.1"],
        base=cartpole_model,
        log=log,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="2",
        SAGEMAKER_MODEL_SERVER_TIMEOUT="30",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        yield url, process
    finally:
        code = stop(process)
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def onnx_predict(model: Path, observations: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model / "policy.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"observations": observations.astype(np.float32)})))


def test_ping_and_the_seed_request(server: tuple[str, subprocess.Popen], cartpole_model: Path) -> None:
    url, process = server
    assert requests.get(url + "/ping", timeout=5).status_code == 200
    response = requests.post(url + "/invocations", json=SEED_REQUEST, timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    outputs = response.json()["outputs"]
    expected = onnx_predict(cartpole_model / "model", np.ones((1, 4)))
    assert outputs["actions"] == expected["actions"].tolist()
    np.testing.assert_allclose(outputs["action_probabilities"], expected["action_probabilities"], atol=1e-6)
    # The workers are the configured number of processes (gunicorn forks them one by one: the first may answer
    # /ping before the second exists, so wait for it; a third would still fail).
    deadline = time.monotonic() + 30
    while len(psutil.Process(process.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(psutil.Process(process.pid).children()) == 2


def test_rows_jsonlines_and_csv(server: tuple[str, subprocess.Popen], cartpole_model: Path) -> None:
    url, _ = server
    observations = np.random.default_rng(0).standard_normal((5, 4)).round(4)
    probabilities = onnx_predict(cartpole_model / "model", observations)["action_probabilities"]

    rows = requests.post(url + "/invocations", json={"instances": observations.tolist()}, timeout=5)
    assert rows.status_code == 200
    np.testing.assert_allclose(rows.json()["predictions"], probabilities, atol=1e-6)

    body = "".join(json.dumps(o) + "\n" for o in observations.tolist())
    lines = requests.post(url + "/invocations", data=body, headers={"Content-Type": "application/jsonlines"}, timeout=5)
    assert lines.status_code == 200 and lines.headers["Content-Type"].startswith("application/jsonlines")
    answers = [json.loads(line) for line in lines.text.splitlines()]
    assert len(answers) == 5
    np.testing.assert_allclose([a["predictions"][0] for a in answers], probabilities, atol=1e-6)

    csv_body = "\n".join(",".join(str(v) for v in row) for row in observations.tolist())
    as_json = requests.post(url + "/invocations", data=csv_body, headers={"Content-Type": "text/csv"}, timeout=5)
    np.testing.assert_allclose(as_json.json()["predictions"], probabilities, atol=1e-6)
    as_csv = requests.post(
        url + "/invocations", data=csv_body, headers={"Content-Type": "text/csv", "Accept": "text/csv"}, timeout=5
    )
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    np.testing.assert_allclose(np.loadtxt(as_csv.text.splitlines(), delimiter=","), probabilities, atol=1e-6)


@pytest.mark.parametrize(
    "body, content_type, status, fragment",
    [
        (json.dumps({"instances": [[1, 2, 3]]}), "application/json", 400, "4 numbers"),
        ("{not json", "application/json", 400, "not valid JSON"),
        (json.dumps({"inputs": {"obs": [[1, 2, 3, 4]]}}), "application/json", 400, "observations"),
        (json.dumps({"instances": [[1, 2, "x", 4]]}), "application/json", 400, "numbers"),
        ('{"instances": [[1, 2, NaN, 4]]}', "application/json", 400, "finite"),
        (json.dumps({"instances": []}), "application/json", 400, "empty"),
        (json.dumps({"something": 1}), "application/json", 400, "inputs"),
        ("1,2,3,4\n1,2\n", "text/csv", 400, "row 2"),
        ("[1,2,3,4]\n{oops\n", "application/jsonlines", 400, "line 2"),
        ("\xff\xfe", "application/jsonlines", 400, ""),
        ("1,2,3,4", "image/png", 415, "Content-Type"),
        # a boolean is no float32 number (numpy would read true as 1.0 and the policy answer for it)
        ('{"instances": [[0.1, true, 0, 0]]}', "application/json", 400, "instances holds a boolean (true or false)"),
        ("[0, 0, 0, 0]\n[false, 0, 0, 0]\n", "application/jsonlines", 400, "holds a boolean"),
    ],
)
def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(
    server: tuple[str, subprocess.Popen], body: str, content_type: str, status: int, fragment: str
) -> None:
    url, process = server
    response = requests.post(
        url + "/invocations", data=body.encode("latin-1"), headers={"Content-Type": content_type}, timeout=5
    )
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]
    assert process.poll() is None
    assert requests.post(url + "/invocations", json=SEED_REQUEST, timeout=5).status_code == 200


def test_methods_routes_and_accept(server: tuple[str, subprocess.Popen]) -> None:
    url, _ = server
    assert requests.get(url + "/invocations", timeout=5).status_code == 405
    assert requests.get(url + "/nothing-here", timeout=5).status_code == 404
    refused = requests.post(url + "/invocations", json=SEED_REQUEST, headers={"Accept": "image/png"}, timeout=5)
    assert refused.status_code == 406 and "Accept" in refused.json()["error"]
    assert requests.get(url + "/execution-parameters", timeout=5).json()["MaxConcurrentTransforms"] == 2
    # A chunked body (no Content-Length) is read and answered like any other.
    chunked = requests.post(
        url + "/invocations",
        data=iter([b'{"instances": ', b"[[0, 0, 0, 0]]}"]),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert chunked.status_code == 200 and len(chunked.json()["predictions"]) == 1


def test_serve_without_a_model_fails_clearly(tmp_path: Path) -> None:
    result = run_rlrt(
        ["serve", "--host", "127.0.0.1"], base=tmp_path, timeout=60, SAGEMAKER_BIND_TO_PORT=str(free_port())
    )
    assert result.returncode == 2
    assert "No model at" in result.stderr and str(tmp_path / "model") in result.stderr


def test_bad_server_settings_fail_clearly(cartpole_model: Path, tmp_path: Path) -> None:
    # A tree of its own: a refused serve writes its failure file, which the shared trained tree must never hold.
    shutil.copytree(cartpole_model / "model", tmp_path / "model")
    result = run_rlrt(["serve"], base=tmp_path, timeout=60, SAGEMAKER_MODEL_SERVER_WORKERS="many")
    assert result.returncode == 2
    assert "SAGEMAKER_MODEL_SERVER_WORKERS must be a positive integer" in result.stderr
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in (tmp_path / "output" / "failure").read_text()
    no_workers = run_rlrt(["serve", "--workers", "0"], base=tmp_path, timeout=60)  # it waited for none
    assert no_workers.returncode == 2
    assert "--workers must be a positive integer, got 0" in no_workers.stderr


def test_a_second_serve_on_a_busy_port_is_one_clear_error(
    server: tuple[str, subprocess.Popen], cartpole_model: Path, tmp_path: Path
) -> None:
    """A second `rlrt serve` on the port the first one serves: refused before it starts, the port and the flag
    named, the reason in its tree's failure file; the first server keeps answering."""
    url, _ = server
    port = url.rsplit(":", 1)[1]
    second = run_rlrt(
        ["serve", "--model", str(cartpole_model / "model"), "--host", "127.0.0.1", "--port", port],
        base=tmp_path,
        timeout=60,
    )
    assert second.returncode == 2, second.stderr[-2000:]
    assert f"port {port} is already in use on 127.0.0.1" in second.stderr and "--port" in second.stderr
    assert "[ERROR]" not in second.stderr and "Traceback" not in second.stderr  # none of gunicorn's own lines
    assert "already in use" in (tmp_path / "output" / "failure").read_text()
    assert requests.get(url + "/ping", timeout=5).status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "-1"], "--timeout must be a positive integer, got -1"),
        (["--timeout", "0"], "--timeout must be a positive integer, got 0"),
        (["--timeout", "100000000000000000000"], "--timeout must be at most 86400, got 100000000000... (21 digits)"),
        (["--workers", "-3"], "--workers must be a positive integer, got -3"),
        (["--workers", "100000000000000000000"], "--workers must be at most 256"),  # it forked until killed
        (["--port", "0"], "the port must be 1-65535, got 0"),
        (["--host", "300.1.1.1"], "--host '300.1.1.1' is not an address or a name this machine can resolve"),
        (["--host", "203.0.113.7"], "--host 203.0.113.7 is not an address of this machine"),  # TEST-NET-3
    ],
)
def test_nonsense_serve_flags_are_refused_before_the_server_starts(
    args: list[str], message: str, cartpole_model: Path, tmp_path: Path
) -> None:
    result = run_rlrt(
        ["serve", "--model", str(cartpole_model / "model"), "--host", "127.0.0.1", "--port", str(free_port()), *args],
        base=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "serving" not in result.stdout + result.stderr
    assert "[ERROR]" not in result.stderr and "Traceback" not in result.stderr
    assert message in (tmp_path / "output" / "failure").read_text()


def test_serving_variables_past_their_bounds_are_refused(cartpole_model: Path, tmp_path: Path) -> None:
    result = run_rlrt(
        ["serve", "--model", str(cartpole_model / "model"), "--host", "127.0.0.1"],
        base=tmp_path,
        timeout=60,
        SAGEMAKER_BIND_TO_PORT=str(free_port()),
        SAGEMAKER_MODEL_SERVER_TIMEOUT="99999999",
    )
    assert result.returncode == 2
    assert "SAGEMAKER_MODEL_SERVER_TIMEOUT must be at most 86400, got 99999999" in result.stderr


def test_bodies_over_the_limit_get_413(cartpole_model: Path) -> None:
    """The ASGI application itself, called in-process (the limit is 100 MB in the server; 1 MB here)."""
    from runtime.serving.app import InferenceApp, call

    app = InferenceApp(cartpole_model / "model", max_body_mb=1)
    body = json.dumps({"instances": [[0.0, 0.0, 0.0, 0.0]] * 60000}).encode()
    assert len(body) > 2**20
    answers = []
    for length in ({"Content-Length": str(len(body))}, {}):  # declared length, and a chunked body of unknown length
        status, _, payload = call(app, "POST", "/invocations", body, {"Content-Type": "application/json", **length})
        answers.append((status, json.loads(payload)["error"]))
    assert answers == [(413, "the request body is larger than 1 MB")] * 2


# --- Large bodies: codec.decode's fast path must read exactly what the general path reads --------------------------
PLAIN = st.one_of(
    st.floats(-1e6, 1e6).map(repr),
    st.integers(-(10**15), 10**15).map(str),
    st.sampled_from(["0", "-0.0", "1e5", "1E-3", "2.5e-310", "0.1000000000000000055511151231257827"]),
)
TRICKY = st.sampled_from(["-0", "12345678901234567", "-9007199254740993", "1e400", "-1e39", "3.4028236e38"])
ODD = st.sampled_from(
    ["NaN", "Infinity", "true", "null", '"1"', "01", "1.", ".5", "+1", "1_0", "inf", " 2 ", "\t3", "1e", "-"]
)
ROW = st.tuples(
    st.one_of(
        *[st.lists(PLAIN, min_size=4, max_size=4)] * 4,
        st.lists(PLAIN, min_size=3, max_size=3).flatmap(lambda r: TRICKY.map(lambda t: [t, *r])),
        st.lists(PLAIN | TRICKY | ODD, min_size=3, max_size=5),
    ),
    st.sampled_from(["", " ", "\t", "\n"]),
)
JSON_DOCS = [
    "{rows}",
    '{{"instances": {rows}}}',
    '{{"inputs": {{"observations": {rows}, "prev_action": [0, 0]}}}}',
    '{{"inputs": {{"prev_action": [[0]], "observations": {rows}}}}}',
    '{{"observations": {rows}, "x": NaN}}',
    '{{"instances": {rows}, "instances": [[1, 2, 3, 4]]}}',
    '{{"note": "{flat}", "inputs": {rows}}}',
    '{{"instances": [{{"observations": {rows}}}]}}',
    "{rows}]",
    '{{"inputs": {rows}}} x',
]
LINES = st.sampled_from(
    [
        "",
        "  ",
        "[[1,2,3,4],[5,6,7,8]]",
        '{"observations": [1,2,3,4]}',
        "{oops",
        "[1,2,3,4]\r",
        "\u2028",
        '"1",2,3,4',
        ",,,",
        "a,b,c,d",
    ]
)


def _row_text(row: tuple[list[str], str], csv: bool) -> str:
    numbers, space = row
    if csv:
        return ",".join(n.replace('"', "") for n in numbers)
    return "[" + space + ("," + space).join(numbers) + space + "]"


@st.composite
def large_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    kind = draw(st.sampled_from([codec.JSON, codec.JSONLINES, codec.CSV]))
    rows = draw(st.lists(ROW, min_size=1, max_size=6))
    if kind == codec.JSON:
        text = ", ".join(_row_text(r, False) for r in rows)
        body = draw(st.sampled_from(JSON_DOCS)).format(rows="[" + text + "]", flat=text.replace("\n", " "))
    else:
        lines = [draw(st.one_of(st.just(_row_text(r, kind == codec.CSV).replace("\n", " ")), LINES)) for r in rows]
        body = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    return body.encode(), kind


def _decoded(body: bytes, kind: str, fast_from_bytes: int) -> tuple:
    try:
        decoded = codec.decode(body, kind, 4, fast_from_bytes=fast_from_bytes)
    except codec.RequestError as exc:
        return type(exc).__name__, str(exc)
    return decoded.observations.dtype, decoded.observations.shape, decoded.observations.tobytes(), decoded.style


@settings(derandomize=True, max_examples=400, deadline=None)
@given(large_bodies(), st.sampled_from([16, 1 << 20]))
def test_large_bodies_read_exactly_as_the_general_path_reads_them(case: tuple[bytes, str], piece: int) -> None:
    """Every body through the fast path (as if large; in pieces of ``piece`` bytes) gives the general path's array,
    bit for bit, or its error message."""
    body, kind = case
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # float32 overflow, in both paths
        patch.setattr(number_rows, "PIECE_BYTES", piece)
        assert _decoded(body, kind, 0) == _decoded(body, kind, 1 << 60)


def test_answers_in_pieces_join_to_the_whole_answer() -> None:
    outputs = {"actions": np.arange(10), "action_probabilities": np.random.default_rng(1).random((10, 2), np.float32)}
    for style in (codec.COLUMNAR, codec.ROWS):
        for kind in (codec.JSON, codec.JSONLINES, codec.CSV):
            whole = codec.encode(outputs, style, kind)
            assert b"".join(codec.encode_pieces(outputs, style, kind, rows=3)) == whole
            if kind == codec.JSON and style == codec.COLUMNAR:
                assert json.loads(whole) == {"outputs": {k: v.tolist() for k, v in outputs.items()}}
            elif kind == codec.JSON:
                assert json.loads(whole) == {"predictions": outputs["action_probabilities"].tolist()}
