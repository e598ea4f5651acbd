"""RLlib 1.x's JSON sample batches (its ``output`` setting) as offline data: the files are written here by
hand as RLlib 1.x's JsonWriter wrote them (json, and for compressed columns pickle + LZ4 + base64, as its
``compression.pack``), independently of the reader, and what the reader makes of them is checked against episodes
worked out by hand."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_support import FUZZ, JSONISH, works_or_user_error
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.errors import UserError
from runtime.offline.dataset import load_logged_data
from runtime.offline.rllib_json import load_rllib_json

LZ4 = importlib.util.find_spec("lz4") is not None
OBS = np.arange(24, dtype=np.float32).reshape(6, 4) / 10


def pack(array: Any, protocol: int = 4) -> str:
    """RLlib 1.x's ``compression.pack``: pickle, LZ4 frame, base64 text."""
    import lz4.frame

    return base64.b64encode(lz4.frame.compress(pickle.dumps(array, protocol=protocol))).decode("ascii")


def write_batches(path: Path, *batches: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in batches))
    return path


def two_files(folder: Path, obs: Any = None) -> list[Path]:
    """Two episodes over two files, as RLlib's fragments cut them: episode 7 (3 steps, done) lies in the first file,
    episode 9 starts there and ends in the second (its rows written out of order, put right by ``t``)."""
    first = write_batches(
        folder / "output-2021-06-01_10-00-00_worker-1_0.json",
        {
            "type": "SampleBatch",
            "obs": obs(OBS[:4]) if obs else OBS[:4].tolist(),
            "new_obs": OBS[1:5].tolist(),
            "actions": [0, 1, 1, 0],
            "rewards": [1.0, 1.0, 1.0, 0.5],
            "dones": [False, False, True, False],
            "eps_id": [7, 7, 7, 9],
            "t": [0, 1, 2, 0],
            "action_prob": [0.5, 0.25, 0.75, 0.5],
            "infos": [{}, {}, {}, {}],
            "agent_index": [0, 0, 0, 0],
        },
    )
    second = write_batches(
        folder / "output-2021-06-01_10-00-05_worker-1_1.json",
        {
            "type": "SampleBatch",
            "obs": [OBS[5].tolist(), OBS[4].tolist()],
            "actions": [0, 1],
            "rewards": [2.0, 1.5],
            "dones": [True, False],
            "eps_id": [9, 9],
            "t": [2, 1],
            "action_logp": [float(np.log(0.2)), float(np.log(0.4))],
        },
    )
    return [first, second]


def check_the_two_episodes(part: dict[str, Any]) -> None:
    np.testing.assert_array_equal(part["lengths"], [3, 3])
    np.testing.assert_allclose(part["states"], OBS[[0, 1, 2, 3, 4, 5]])
    np.testing.assert_array_equal(part["actions"], [0, 1, 1, 0, 1, 0])
    np.testing.assert_allclose(part["rewards"], [1.0, 1.0, 1.0, 0.5, 1.5, 2.0])
    logged = part["probs"][np.arange(6), part["actions"]]
    np.testing.assert_allclose(logged, [0.5, 0.25, 0.75, 0.5, 0.4, 0.2])
    assert np.isnan(part["probs"][np.arange(6), 1 - part["actions"]]).all()  # only the logged action's is known
    assert part["discrete"] and part["n_actions"] == 2 and part["ended"].tolist() == [True, True]


def test_plain_json_batches_are_read_into_episodes(tmp_path: Path) -> None:
    files = two_files(tmp_path)
    check_the_two_episodes(load_rllib_json(files))
    (tmp_path / "config.json").write_text("{}")  # not RLlib's name: not data
    data = load_logged_data(tmp_path, time_limit=200)
    assert data.files == tuple(files) and data.num_episodes == 2 and data.terminated.tolist() == [True, True]
    assert data.behaviour_probs is not None and data.observation_size == 4


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_compressed_columns_are_unpacked(tmp_path: Path, protocol: int) -> None:
    pytest.importorskip("lz4.frame")
    check_the_two_episodes(load_rllib_json(two_files(tmp_path, obs=lambda a: pack(a, protocol))))


def test_without_lz4_a_compressed_column_names_itself_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("lz4.frame")
    files = two_files(tmp_path, obs=pack)
    monkeypatch.setitem(sys.modules, "lz4", None)
    monkeypatch.setitem(sys.modules, "lz4.frame", None)
    with pytest.raises(UserError) as failure:
        load_rllib_json(files)
    message = str(failure.value)
    assert f"{files[0]}, line 1, column 'obs'" in message and "pip install lz4" in message
    assert "output_compress_columns: []" in message


def test_a_pickle_of_anything_but_a_numpy_array_is_refused_unrun(tmp_path: Path) -> None:
    pytest.importorskip("lz4.frame")
    import lz4.frame

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> Any:
            return os.mkdir, (str(marker),)

    blob = base64.b64encode(lz4.frame.compress(pickle.dumps(Payload()))).decode("ascii")
    path = write_batches(
        tmp_path / "output-x.json",
        {"type": "SampleBatch", "obs": blob, "actions": [0], "rewards": [1.0], "dones": [True], "eps_id": [1]},
    )
    with pytest.raises(
        UserError,
        match=r"column 'obs': the compressed column is not a pickled numpy array \(it "
        r"refers to (posix|os)\.mkdir",
    ):
        load_rllib_json([path])
    assert not marker.exists()


GOOD = {
    "type": "SampleBatch",
    "obs": [[0.1, 0.2], [0.3, 0.4]],
    "actions": [0, 1],
    "rewards": [1.0, 1.0],
    "dones": [False, True],
    "eps_id": [3, 3],
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"rewards": None}, r"line 2: the sample batch has no column\(s\) 'rewards'"),
        ({"dones": None}, r"line 2: the sample batch has no column\(s\) 'dones'"),
        ({"actions": [0]}, r"line 2, column 'actions': 1 entries, but 'rewards' has 2 \(one per step\)"),
        ({"obs": [[0.1, 0.2], [0.3]]}, r"line 2, column 'obs': expected a list of numbers"),
        ({"rewards": [1.0, "x"]}, r"line 2, column 'rewards': expected a list of numbers"),
        ({"obs": "not base64!"}, r"line 2, column 'obs': the column is a string but not RLlib's compressed form"),
        ({"dones": [True, True]}, r"line 2, column 'dones': episode 3 is done at this step, but has later steps"),
        ({"actions": [0, -1]}, r"line 2, column 'actions': a discrete action must be from 0"),
        ({"action_prob": [0.5, 0.0]}, r"line 2, column 'action_prob': step 1 has probability 0"),
        (
            {"type": "MultiAgentBatch", "policy_batches": {"a": {}, "b": {}}},
            r"line 2: a MultiAgentBatch with policies a, b",
        ),
        ({"type": "Batch"}, r"line 2: expected an RLlib sample batch"),
    ],
)
def test_a_bad_batch_names_the_file_the_line_and_the_column(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    batch = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    path = tmp_path / "output-x.json"
    path.write_text("\n" + json.dumps(batch) + "\n")  # a blank first line: line numbers count it
    with pytest.raises(UserError, match=expected) as failure:
        load_rllib_json([path])
    assert str(path) in str(failure.value)


def test_a_step_logged_twice_and_mixed_batches_are_named(tmp_path: Path) -> None:
    twice = write_batches(tmp_path / "output-a.json", {**GOOD, "t": [0, 0]})
    with pytest.raises(UserError, match=r"line 1, column 't': step 0 of episode 3 is logged twice"):
        load_rllib_json([twice])
    mixed = write_batches(tmp_path / "output-b.json", GOOD, {**GOOD, "actions": [0.5, 1.5], "eps_id": [4, 4]})
    with pytest.raises(UserError, match=r"line 2: its actions are continuous but those of .*line 1 are not"):
        load_rllib_json([mixed])
    empty = tmp_path / "output-c.json"
    empty.write_text("\n")
    with pytest.raises(UserError, match="is empty"):
        load_rllib_json([empty])


def test_episodes_cut_off_and_rllib_2_columns_and_continuous_actions(tmp_path: Path) -> None:
    """An episode whose last step is not done (recording stopped) is never terminal; RLlib 2.x's terminateds and
    truncateds; float actions are continuous (no behaviour probabilities)."""
    path = write_batches(
        tmp_path / "output-a.json",
        {
            "type": "MultiAgentBatch",
            "count": 5,
            "policy_batches": {
                "default_policy": {
                    "obs": [[0.0], [1.0], [2.0], [3.0], [4.0]],
                    "actions": [[0.5], [-0.5], [1.0], [0.0], [0.25]],
                    "rewards": [1, 2, 3, 4, 5],
                    "terminateds": [False, True, False, False, False],
                    "truncateds": [False, False, True, False, False],
                    "eps_id": [1, 1, 2, 3, 3],
                    "action_prob": [0.1, 0.1, 0.1, 0.1, 0.1],
                }
            },
        },
    )
    part = load_rllib_json([path])
    assert not part["discrete"] and part["n_actions"] == 1 and part["probs"] is None
    assert part["lengths"].tolist() == [2, 1, 2] and part["ended"].tolist() == [True, False, False]
    data = load_logged_data(path)
    assert data.terminated.tolist() == [True, False, False]
    np.testing.assert_allclose(data.actions[:, 0], [0.5, -0.5, 1.0, 0.0, 0.25])


# --- the property: any file fails with a UserError naming it, or loads as consistent episodes --------------------
COLUMN_NAMES = st.sampled_from(
    [
        "obs",
        "actions",
        "rewards",
        "dones",
        "eps_id",
        "t",
        "action_prob",
        "action_logp",
        "terminateds",
        "truncateds",
        "new_obs",
        "type",
        "policy_batches",
    ]
)
BLOBS = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode("ascii"))
PACKED = (
    hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.uint8, "U2"]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    ).map(pack)
    if LZ4
    else BLOBS
)
VALUES = st.one_of(
    JSONISH,
    BLOBS,
    PACKED,
    st.lists(st.integers(-3, 3) | st.floats(allow_nan=True) | st.booleans(), min_size=0, max_size=4),
    st.lists(st.lists(st.floats(-2, 2), min_size=1, max_size=2), min_size=1, max_size=4),
)


@st.composite
def batch_files(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        batch = dict(GOOD) if draw(st.booleans()) else {"type": "SampleBatch"}
        batch.update(draw(st.dictionaries(COLUMN_NAMES, VALUES, max_size=4)))
        text = json.dumps(batch)
        lines.append(text[: draw(st.integers(0, len(text)))] if draw(st.integers(0, 5)) == 0 else text)
    return "\n".join(lines)


@FUZZ
@given(batch_files() | st.text(max_size=40))
@example(json.dumps({**GOOD, "obs": pack(np.array([[1.0, 2.0], [3.0, 4.0]])) if LZ4 else "eA=="}))
@example(json.dumps({**GOOD, "obs": pack(np.array(["a", "b"])) if LZ4 else "eA=="}))
@example(json.dumps({**GOOD, "obs": pack({"a": 1}) if LZ4 else "eA=="}))
@example(json.dumps({**GOOD, "obs": pack(np.array([[1, "a"], [2, None]], dtype=object)) if LZ4 else "eA=="}))
@example(json.dumps({**GOOD, "eps_id": [2**64, 2**64]}))
@example(json.dumps({**GOOD, "t": [0, 10**30]}))
@example(json.dumps({**GOOD, "rewards": []}))
@example(json.dumps({**GOOD, "rewards": [[1, 2], [3, 4]]}))
@example(json.dumps({**GOOD, "action_prob": [[0.5, 0.5], [0.5, 0.5]]}))
@example(json.dumps({**GOOD, "dones": [[0], [1]], "t": [[0], [1]]}))
@example(json.dumps({**GOOD, "rewards": [], "obs": [], "actions": [], "dones": [], "eps_id": []}))
def test_any_batch_file_loads_or_fails_naming_the_file(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "output-fuzz.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")

    def load() -> None:
        part = load_rllib_json([path])
        total = int(part["lengths"].sum())
        assert len(part["states"]) == len(part["actions"]) == len(part["rewards"]) == total > 0
        assert np.isfinite(part["states"]).all() and np.isfinite(part["rewards"]).all()
        assert len(part["ended"]) == len(part["lengths"]) and (part["lengths"] > 0).all()

    works_or_user_error(load, (UserError,), [str(path)])


def test_the_number_of_actions_is_the_width_of_action_dist_inputs_when_given(tmp_path: Path) -> None:
    """A discrete policy's logits (``action_dist_inputs``) say how many actions there are, even where the logged
    actions never include the last ones."""
    path = write_batches(tmp_path / "output-a.json", {**GOOD, "action_dist_inputs": [[0.0, 1.0, 2.0]] * 2})
    assert load_rllib_json([path])["n_actions"] == 3
    assert load_rllib_json([write_batches(tmp_path / "output-b.json", GOOD)])["n_actions"] == 2
