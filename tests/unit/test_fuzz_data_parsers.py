"""Property-based fuzzing of the data parsers (see test_fuzz_parsers.py for the property and the profile): the Batch
RL CSV/Parquet loader, serving request bodies (the codec and the WSGI application in-process: never a 5xx),
DeepRacer track files and model_metadata.json."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_support import FUZZ, JSONISH, SCALARS, truncations, works_or_user_error, write
from hypothesis import example, given
from hypothesis import strategies as st

from envs.deepracer.metadata import MetadataError, load_metadata, parse_metadata
from envs.deepracer.tracks import TRACKS_DIR, TrackError, load_track, validate_track_array
from envs.errors import EnvConfigError
from runtime.errors import UserError
from runtime.offline.dataset import load_logged_data
from runtime.serving import codec
from runtime.serving.app import InferenceApp, call

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-data")


# --- Batch RL rollout files --------------------------------------------------------------------------------------
COLUMNS = [
    "action",
    "episode_id",
    "reward",
    "state_feature_0",
    "state_feature_1",
    "all_action_probabilities",
    "action_0",
    "state_feature_3",
    "Action",
    "state_feature_",
    "state_0",
    "reward ",
    "episode",
]
CELLS = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "0.5",
        "-1",
        "",
        " ",
        "nan",
        "inf",
        "1e400",
        "abc",
        "[0.5, 0.5]",
        "[1]",
        '"[0.5, 0.5]"',
        '[0.5, "a"]',
        "[[0.5]]",
        "[" * 2000,
        "1e19",
        "9" * 30,
        "true",
        "\u00e9",
    ]
)


@st.composite
def rollout_csv(draw: st.DrawFn) -> str:
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6))
    if draw(st.booleans()):
        header = ["action", "episode_id", "reward", "state_feature_0"] + header[:2]
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    rows = [sep.join(header)]
    for _ in range(draw(st.integers(0, 4))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        cells = [draw(CELLS | st.text(max_size=4)) for _ in range(max(width, 0))]
        rows.append(sep.join(f'"{c}"' if sep in c or '"' in c else c for c in cells))
    return draw(truncations(st.just("\n".join(rows) + "\n")))


GOOD_CSV = 'action,episode_id,reward,state_feature_0,all_action_probabilities\n0,1,1.0,0.5,"[0.5, 0.5]"\n'


@FUZZ
@given(rollout_csv() | st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
@example(GOOD_CSV.replace('"[0.5, 0.5]"', "[" * 2000))
@example('action,episode_id,reward,state_feature_0,all_action_probabilities\n1e19,1,1.0,0.5,"[0.5, 0.5]"\n')
@example("action,episode_id,reward,state_feature_0\n1e19,1,1.0,0.5\n")
@example("action,episode_id,reward,state_feature_0\n0,1,1.0\n")
@example("\udcff")
def test_rollout_csv(folder: Path, text: str) -> None:
    path = write(folder, "rollouts.csv", text)
    works_or_user_error(lambda: load_logged_data(path), (UserError,), [str(path)])


NUMBER_COLUMNS = st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-3, 3), min_size=1, max_size=3)


@FUZZ
@given(st.dictionaries(st.sampled_from(COLUMNS), NUMBER_COLUMNS, max_size=5), st.binary(max_size=40))
def test_rollout_parquet(folder: Path, columns: dict[str, list[Any]], junk: bytes) -> None:
    import pandas as pd

    path = folder / "rollouts.parquet"
    n = min((len(v) for v in columns.values()), default=0)
    if columns and n:
        pd.DataFrame({k: v[:n] for k, v in columns.items()}).to_parquet(path)
    else:
        path.write_bytes(junk)
    works_or_user_error(lambda: load_logged_data(path), (UserError,), [str(path)])


# --- serving request bodies --------------------------------------------------------------------------------------
OBS = st.lists(st.floats(-10, 10) | SCALARS, min_size=0, max_size=5)
REQUEST_VALUES = st.one_of(
    JSONISH,
    OBS,
    st.lists(OBS, max_size=3),
    st.fixed_dictionaries(
        {},
        optional={
            "inputs": JSONISH | st.fixed_dictionaries({"observations": st.lists(OBS, max_size=2)}),
            "instances": JSONISH | st.lists(OBS | st.fixed_dictionaries({"observations": OBS}), max_size=2),
            "observations": OBS,
        },
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "",
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/jsonlines",
        "application/jsonl",
        "text/csv",
        "text/csv; header=present",
        "text/plain",
        "application/x-npy",
        ";",
        "\u00e9",
    ]
)


def _body(value: Any, kind: str) -> bytes:
    if kind == "jsonlines":
        rows = value if isinstance(value, list) else [value]
        return "\n".join(json.dumps(r) for r in rows).encode()
    if kind == "csv":
        rows = value if isinstance(value, list) else [value]
        return "\n".join(",".join(map(str, r)) if isinstance(r, list) else str(r) for r in rows).encode()
    return json.dumps(value).encode()


BODIES = st.one_of(
    st.tuples(REQUEST_VALUES, st.sampled_from(["json", "jsonlines", "csv"])).map(lambda t: _body(*t)),
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"[" * 5000,
            b"[" * 5000 + b"]" * 5000,
            b"[1e400, 0, 0, 0]",
            b"[10" + b"0" * 400 + b", 0, 0, 0]",
            b"1,2,3,\x00",
            b'"' + b"1" * 200000,
            b"0,0,0,0\r\n0,0,0,0",
            b"\xef\xbb\xbf0,0,0,0",
        ]
    ),
)


@FUZZ
@given(BODIES, CONTENT_TYPES)
@example(b"[" * 5000, "application/json")
@example(b"[" * 5000, "application/jsonlines")
@example(b"[10" + b"0" * 400 + b", 0, 0, 0]", "application/json")
@example(b"1,2,3,\x00", "text/csv")
@example(b'"' + b"1" * 200000, "text/csv")
def test_request_body(body: bytes, content_type: str | None) -> None:
    works_or_user_error(lambda: codec.decode(body, content_type, 4), (codec.RequestError,))


class FakePolicy:
    """A four-feature, two-action policy: the server's request handling without ONNX Runtime."""

    observation_dim = 4
    coach: Any = None

    def predict(self, observations: np.ndarray) -> dict[str, np.ndarray]:
        n = len(observations)
        return {"actions": np.zeros(n, dtype=np.int64), "action_probabilities": np.full((n, 2), 0.5, np.float32)}


class FakeCoach:
    """A Coach model's ``model.onnx`` (:class:`runtime.serving.coach.CoachModel`): one observation in, its answer."""

    def answer(self, observation: np.ndarray) -> bytes:
        assert observation.shape == (4,) and np.isfinite(observation).all()
        return json.dumps([[0.0], [[0.5, 0.5]]]).encode()


@FUZZ
@given(
    BODIES,
    CONTENT_TYPES,
    st.sampled_from(
        [None, "", "*/*", "text/csv", "application/jsonlines", "image/png", "text/*, application/json;q=0.5", ","]
    ),
    st.sampled_from(["exact", "", "-1", "abc", "999999999999", "0"]),
    st.booleans(),
)
@example(b"[0, 0, 0, 0]", "application/json", None, "-1", False)
@example(b"[" * 5000, "application/json", None, "exact", False)
@example(b"[0, 0, 0]", "application/json", None, "exact", True)
@example(b"[0, 1e999, 0, 0]", None, "*/*", "exact", True)
def test_invocations(body: bytes, content_type: str | None, accept: str | None, length: str, coach: bool) -> None:
    app = InferenceApp(Path("unused"), max_body_mb=1)
    app.policy = FakePolicy()  # type: ignore[assignment]
    app.policy.coach = FakeCoach() if coach else None  # a Coach model: a bare list is its own request
    headers = {"Content-Length": str(len(body)) if length == "exact" else length}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    code, _, answer = call(app, "POST", "/invocations", body, headers)
    assert code < 500, (code, answer[:300])
    if length == "-1":
        assert code == 400  # read(-1) would read past the body limit
    if code >= 400:
        assert json.loads(answer)["error"].strip()


# --- DeepRacer tracks and model_metadata.json --------------------------------------------------------------------
OVAL = np.load(TRACKS_DIR / "oval.npy")


@st.composite
def track_arrays(draw: st.DrawFn) -> Any:
    data = OVAL.copy()
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.sampled_from(["cut", "cell", "columns", "reverse", "shape", "scale"]))
        if edit == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif edit == "cell" and data.size:
            data.flat[draw(st.integers(0, data.size - 1))] = draw(
                st.floats(allow_nan=True) | st.sampled_from([1e308, -1e308])
            )
        elif edit == "columns" and data.ndim == 2:
            data = data[:, draw(st.permutations(range(data.shape[1])))]
        elif edit == "reverse":
            data = data[::-1]
        elif edit == "shape":
            data = data.reshape(-1)[: draw(st.integers(0, 30))]
        else:
            data = data * draw(st.sampled_from([0.0, 1e-9, 1e300, -1.0]))
    return data


@FUZZ
@given(track_arrays() | JSONISH | st.sampled_from([[[10**400] * 6] * 4, [["1"] * 6] * 4]))
@example([[10**400] * 6] * 4)
def test_track_array(array: Any) -> None:
    works_or_user_error(lambda: validate_track_array(array, "fuzzed"), (TrackError, EnvConfigError), ["fuzzed"])


def _npy(array: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


@FUZZ
@given(
    truncations(track_arrays().map(_npy))
    | st.sampled_from(
        [
            _npy(np.array([{"a": 1}], dtype=object)),
            _npy(np.zeros(3, dtype=[("x", "f8")])),
            _npy(OVAL.astype(np.complex128)),
            _npy(OVAL.astype("U8")),
            b"",
        ]
    )
    | st.binary(max_size=40)
)
@example(b"")
@example(_npy(OVAL)[:60])
@example(_npy(np.zeros(3, dtype=[("x", "f8")])))
def test_track_file(folder: Path, data: bytes) -> None:
    path = write(folder, "fuzzed.npy", data)
    works_or_user_error(lambda: load_track(path), (TrackError, EnvConfigError), [str(path)])


GOOD_METADATA = {
    "action_space": [{"steering_angle": -30, "speed": 0.6}, {"steering_angle": 30, "speed": 1.0}],
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}
CONTINUOUS = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1}}


@st.composite
def metadata_documents(draw: st.DrawFn) -> Any:
    doc = dict(GOOD_METADATA)
    if draw(st.booleans()):
        doc.update(action_space=json.loads(json.dumps(CONTINUOUS)), action_space_type="continuous")
    for key in draw(st.lists(st.sampled_from(list(GOOD_METADATA) + ["space.steer", "space.low"]), max_size=3)):
        if key == "space.steer" and isinstance(doc.get("action_space"), list):
            doc["action_space"] = [{**doc["action_space"][0], "steering_angle": draw(SCALARS)}]
        elif key == "space.low" and isinstance(doc.get("action_space"), dict):
            doc["action_space"] = {**doc["action_space"], "speed": {"low": draw(SCALARS), "high": draw(SCALARS)}}
        elif draw(st.booleans()):
            doc.pop(key, None)
        else:
            doc[key] = draw(JSONISH)
    return doc


@FUZZ
@given(metadata_documents() | JSONISH)
@example({"action_space": [{"steering_angle": 10**400, "speed": 1}]})
@example({"action_space": [{"steering_angle": float("nan"), "speed": 1}]})
@example({"action_space": {"steering_angle": {"low": float("nan"), "high": 30}, "speed": {"low": 0.5, "high": 1}}})
def test_model_metadata(doc: Any) -> None:
    works_or_user_error(lambda: parse_metadata(doc), (MetadataError, EnvConfigError), ["model_metadata.json"])


@FUZZ
@given(
    truncations(metadata_documents().map(lambda d: json.dumps(d).encode()))
    | st.binary(max_size=40)
    | st.just(b"[" * 5000)
)
@example(b"[" * 5000)
def test_model_metadata_file(folder: Path, data: bytes) -> None:
    path = write(folder, "model_metadata.json", data)
    works_or_user_error(lambda: load_metadata(path), (MetadataError, EnvConfigError), [str(path)])
