"""`rlrt transform`: local Batch Transform with the endpoint's per-record contract."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from runtime.serving.transform import TransformOptions, transform
from tests.conftest import run_rlrt
from tests.trained_models import cartpole_model, reacher_model, tf_env, tf_python  # noqa: F401


def onnx_primary(model: Path, observations: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model / "policy.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, {"observations": observations.astype(np.float32)})))
    return out.get("action_probabilities", out["actions"])


def write_states(path: Path, observations: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in observations.tolist()))


@pytest.fixture
def states(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    first, second = rng.standard_normal((300, 4)).round(5), rng.standard_normal((20, 4)).round(5)
    write_states(tmp_path / "in" / "env_states_1.json", first)
    write_states(tmp_path / "in" / "more" / "env_states_2.jsonl", second)
    return tmp_path / "in", first, second


def test_jsonlines_folder_single_and_multi_record(cartpole_model: Path, states: tuple, tmp_path: Path) -> None:
    folder, first, second = states
    model = cartpole_model / "model"
    outputs = {}
    for strategy in ("SingleRecord", "MultiRecord"):
        out = tmp_path / strategy
        summary = transform(model, folder, out, TransformOptions(strategy=strategy), show_progress=False)
        assert summary.records == 320 and summary.files == 2
        outputs[strategy] = [
            (out / "env_states_1.json.out").read_text(),
            (out / "more" / "env_states_2.jsonl.out").read_text(),
        ]
    assert outputs["SingleRecord"] == outputs["MultiRecord"]
    lines = outputs["MultiRecord"][0].splitlines()
    assert len(lines) == 300
    predictions = np.array([json.loads(line)["predictions"][0] for line in lines])
    np.testing.assert_allclose(predictions, onnx_primary(model, first), atol=1e-6)
    # predictions[0] is the action-probability list (the Batch RL loop feeds it back into collection).
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, atol=1e-5)


def test_join_source_input(cartpole_model: Path, tmp_path: Path) -> None:
    model = cartpole_model / "model"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('[0.1, 0.2, 0.3, 0.4]\n{"id": 7, "observations": [0, 0, 0, 0]}\n')
    (tmp_path / "in" / "b.csv").write_text("0.1,0.2,0.3,0.4\n1,1,1,1\n")
    transform(model, tmp_path / "in", tmp_path / "out", TransformOptions(join_source="Input"), show_progress=False)
    first, second = [json.loads(line) for line in (tmp_path / "out" / "a.jsonl.out").read_text().splitlines()]
    assert first["SageMakerInput"] == [0.1, 0.2, 0.3, 0.4] and len(first["SageMakerOutput"]["predictions"][0]) == 2
    assert second["id"] == 7 and second["observations"] == [0, 0, 0, 0] and "SageMakerOutput" in second
    rows = [line.split(",") for line in (tmp_path / "out" / "b.csv.out").read_text().splitlines()]
    assert rows[0][:4] == ["0.1", "0.2", "0.3", "0.4"] and len(rows[0]) == 6
    np.testing.assert_allclose([float(v) for v in rows[1][4:]], onnx_primary(model, np.ones((1, 4)))[0], atol=1e-6)


def test_csv_accept_and_multirecord_json_minibatches(reacher_model: Path, tmp_path: Path) -> None:
    model = reacher_model / "model"
    observations = np.random.default_rng(2).standard_normal((50, 9)).round(4)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "s.csv").write_text("\n".join(",".join(map(str, r)) for r in observations.tolist()) + "\n")
    transform(model, tmp_path / "in", tmp_path / "csv", TransformOptions(accept="text/csv"), show_progress=False)
    actions = np.loadtxt(tmp_path / "csv" / "s.csv.out", delimiter=",")
    np.testing.assert_allclose(actions, onnx_primary(model, observations), atol=1e-6)
    # MultiRecord + application/json: one {"predictions": [...]} per mini-batch of at most max_payload_mb.
    transform(
        model,
        tmp_path / "in",
        tmp_path / "json",
        TransformOptions(accept="application/json", max_payload_mb=0.001),
        show_progress=False,
    )
    batches = [json.loads(line)["predictions"] for line in (tmp_path / "json" / "s.csv.out").read_text().splitlines()]
    assert len(batches) > 1
    np.testing.assert_allclose(np.concatenate(batches), actions, atol=1e-6)


def test_split_none_and_a_model_tarball(cartpole_model: Path, tmp_path: Path) -> None:
    model = cartpole_model / "model"
    tarball = tmp_path / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for item in model.iterdir():
            archive.add(item, arcname=item.name)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "req.json").write_text(json.dumps({"inputs": {"observations": [[1, 1, 1, 1], [0, 0, 0, 0]]}}))
    transform(tarball, tmp_path / "in", tmp_path / "out", TransformOptions(split_type="None"), show_progress=False)
    outputs = json.loads((tmp_path / "out" / "req.json.out").read_text())["outputs"]
    assert len(outputs["actions"]) == 2 and len(outputs["action_probabilities"]) == 2


def test_cli_transform_and_its_errors(cartpole_model: Path, tmp_path: Path) -> None:
    model = cartpole_model / "model"
    write_states(tmp_path / "in" / "ok.jsonl", np.zeros((3, 4)))
    done = run_rlrt(
        ["transform", "--model", str(model), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")],
        base=tmp_path / "job",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "transformed 3 records in 1 file(s)" in done.stdout
    assert len((tmp_path / "out" / "ok.jsonl.out").read_text().splitlines()) == 3

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jsonl").write_text("[1, 2, 3, 4]\n[1, 2, 3]\n")
    failed = run_rlrt(
        ["transform", "--model", str(model), "--input", str(tmp_path / "bad"), "--output", str(tmp_path / "out2")],
        base=tmp_path / "job",
        timeout=120,
    )
    assert failed.returncode == 2
    assert "broken.jsonl:2: each observation must have 4 numbers, got 3" in failed.stderr
    assert not list((tmp_path / "out2").glob("*")), "no partial output is left behind"

    wrong = run_rlrt(
        [
            "transform",
            "--model",
            str(model),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out3"),
            "--strategy",
            "Everything",
        ],
        base=tmp_path / "job",
        timeout=120,
    )
    assert wrong.returncode == 2 and "strategy must be one of SingleRecord, MultiRecord" in wrong.stderr
    missing = run_rlrt(
        [
            "transform",
            "--model",
            str(tmp_path / "nomodel"),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out4"),
        ],
        base=tmp_path / "job",
        timeout=120,
    )
    assert missing.returncode == 2 and "No model at" in missing.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["transform", "--model", "missing-model", "--input", "x.csv", "--output", "out"],
        ["export", "--model-dir", "missing-model"],
        ["serve", "--model", "missing-model", "--port", "0"],
    ],
)
def test_a_laptop_command_beside_jobs_leaves_a_real_opt_ml_alone(tmp_path: Path, args: list[str]) -> None:
    """serve, transform and export outside a job tree (no SAGEMAKER_BASE_DIR) print their refusal and write no
    failure file: not into /opt/ml, which they must not create either."""
    failure = Path("/opt/ml/output/failure")
    before = (failure.stat().st_mtime_ns, failure.read_bytes()) if failure.exists() else None
    opt_ml_existed = Path("/opt/ml").exists()
    run = run_rlrt(args, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "missing-model" in run.stderr, run.stderr[-2000:]
    after = (failure.stat().st_mtime_ns, failure.read_bytes()) if failure.exists() else None
    assert after == before and Path("/opt/ml").exists() == opt_ml_existed
