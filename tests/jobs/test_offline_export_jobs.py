"""Offline (d3rlpy DiscreteBCQ) models through THE export pipeline: TorchScript, ONNX, the TensorFlow SavedModel
(``1/``, when TensorFlow's environment is here), ``code/inference.py`` and metadata, each equal to the others and to
d3rlpy; ``rlrt serve`` answers with the ONNX probabilities; ``rlrt export`` re-exports from the checkpoint; an
architecture with no plain-layer form keeps TorchScript and ONNX and says why there is no SavedModel."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest
import requests

from runtime.offline.collect import collect
from tests.conftest import make_job_tree, run_rlrt, start_rlrt
from tests.jobs.test_offline_train import TINY
from tests.jobs.test_serving_server import free_port, stop, wait_until_ready
from tests.trained_models import tf_env, tf_python  # noqa: F401 - fixtures

TOL = 1e-5
HYPERPARAMETERS = {
    **TINY,
    "rl.training.stop.epochs": 1,
    "evaluate_episodes": 1,
    "rl.training.config.evaluation_episodes": 0,
    "rl.training.config.fqe_steps": 0,
}


@pytest.fixture(scope="module")
def offline_model(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A one-epoch DiscreteBCQ CartPole model folder, trained with TensorFlow's environment when it is here."""
    tf = request.getfixturevalue("tf_python")
    base = tmp_path_factory.mktemp("offline-export")
    tree = make_job_tree(base / "opt" / "ml", HYPERPARAMETERS)
    collect(
        "CartPole-v0",
        num_envs=10,
        num_episodes=2,
        output=tree.channel("train") / "rollouts.csv",
        seed=0,
        progress=False,
    )
    result = run_rlrt(["train"], base=tree.base, timeout=600, RLRT_TF_PYTHON=tf or "")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rlrt: serving exports" in result.stdout
    return tree.model


def observations(count: int = 200, seed: int = 3) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((count, 4)) * 2).astype(np.float32)


def onnx_outputs(model: Path, obs: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model / "policy.onnx"), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"observations": obs})))


def test_the_model_folder_holds_every_export(offline_model: Path) -> None:
    import d3rlpy
    import torch

    serving = json.loads((offline_model / "metadata.json").read_text())["serving"]
    assert serving["outputs"] == ["actions", "action_probabilities", "q_values"]
    for key in ("torchscript", "onnx", "code", "policy_spec", "policy_weights"):
        assert (offline_model / serving[key]).is_file(), key
    assert (offline_model / "code" / "rlrt_codec.py").is_file()
    assert serving["head"]["kind"] == "q_ensemble" and serving["head"]["filter_threshold"] == pytest.approx(np.log(0.3))
    assert serving["temperature"] == 0.2 and serving["inputs"]["observations"]["shape"] == [None, 4]
    assert set(serving["max_abs_error"]) == {"torchscript", "onnx", "framework"}
    assert serving["max_abs_error"]["framework"] <= TOL and serving["max_abs_error"]["torchscript"] <= TOL
    spec = json.loads((offline_model / "policy_spec.json").read_text())
    assert len(spec["q_functions"]) == 3 and spec["imitator"] and spec["observation_filter"]  # n_critics: 3

    obs = observations()
    algo = d3rlpy.load_learnable(str(offline_model / "checkpoint" / "model.d3"))
    onnx = onnx_outputs(offline_model, obs)
    np.testing.assert_array_equal(onnx["actions"], algo.predict(obs))
    with torch.no_grad():
        scripted = [t.numpy() for t in torch.jit.load(str(offline_model / "policy.pt"))(torch.as_tensor(obs))]
    for name, value in zip(serving["outputs"], scripted):
        np.testing.assert_allclose(value, onnx[name], atol=TOL, rtol=TOL, err_msg=name)


def test_the_savedmodel_equals_onnx(offline_model: Path, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    tf = request.getfixturevalue("tf_python")
    if tf is None:
        pytest.skip(f"the TensorFlow environment cannot be built here: {request.getfixturevalue('tf_env')[1]}")
    serving = json.loads((offline_model / "metadata.json").read_text())["serving"]
    assert serving["tensorflow_savedmodel"]["path"] == "1/", serving.get("tensorflow_skipped")
    assert (offline_model / "1" / "saved_model.pb").is_file()
    obs = observations(500, seed=11)
    np.save(tmp_path / "obs.npy", obs)
    script = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "print(json.dumps(sorted(f.structured_outputs)))\n"
        "r = f(observations=tf.constant(np.load(sys.argv[2])))\n"
        "np.savez(sys.argv[3], **{k: v.numpy() for k, v in r.items()})\n"
    )
    done = subprocess.run(
        [tf, "-c", script, str(offline_model / "1"), str(tmp_path / "obs.npy"), str(tmp_path / "tf.npz")],
        capture_output=True,
        text=True,
        timeout=180,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == sorted(serving["outputs"])
    got = dict(np.load(tmp_path / "tf.npz"))
    for name, value in onnx_outputs(offline_model, obs).items():
        np.testing.assert_allclose(got[name], value, atol=TOL, rtol=TOL, err_msg=name)


def test_rlrt_serve_answers_with_the_onnx_probabilities(offline_model: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    process = start_rlrt(
        ["serve", "--host", "127.0.0.1", "--model", str(offline_model)],
        log=log,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
    )
    url = f"http://127.0.0.1:{port}"
    obs = observations(5).round(4)
    expected = onnx_outputs(offline_model, obs)
    try:
        wait_until_ready(url, process, log)
        answer = requests.post(url + "/invocations", json={"instances": obs.tolist()}, timeout=10)
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(answer.json()["predictions"], expected["action_probabilities"], atol=TOL)
        lines = "".join(json.dumps(row) + "\n" for row in obs.tolist())
        answer = requests.post(
            url + "/invocations", data=lines, timeout=10, headers={"Content-Type": "application/jsonlines"}
        )
        rows = [json.loads(line)["predictions"][0] for line in answer.text.splitlines()]
        np.testing.assert_allclose(rows, expected["action_probabilities"], atol=TOL)
        answer = requests.post(
            url + "/invocations", json={"inputs": {"observations": obs.tolist(), "prev_action": 0}}, timeout=10
        ).json()["outputs"]
        assert answer["actions"] == expected["actions"].tolist()
        np.testing.assert_allclose(answer["q_values"], expected["q_values"], atol=TOL, rtol=TOL)
        bad = requests.post(url + "/invocations", json={"instances": [[1.0, 2.0]]}, timeout=10)
        assert bad.status_code == 400 and "4 numbers" in bad.json()["error"]
    finally:
        code = stop(process)
    assert code == 0 and "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_pytorch_container_handlers(offline_model: Path) -> None:
    """code/inference.py as SageMaker's PyTorch container loads it (rlrt not importable)."""
    obs = observations(3).round(4)
    script = (
        "import sys, json\n"
        "sys.modules['runtime'] = None\n"
        "sys.path.insert(0, sys.argv[1] + '/code')\n"
        "import inference\n"
        "m = inference.model_fn(sys.argv[1])\n"
        "body = json.dumps({'instances': json.loads(sys.argv[2])})\n"
        "out, kind = inference.output_fn(inference.predict_fn(inference.input_fn(body, 'application/json'), m), None)\n"
        "print(out.decode())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(offline_model), json.dumps(obs.tolist())],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(offline_model),
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    predictions = json.loads(done.stdout.strip().splitlines()[-1])["predictions"]
    np.testing.assert_allclose(predictions, onnx_outputs(offline_model, obs)["action_probabilities"], atol=TOL)


def test_rlrt_export_rewrites_an_offline_model_folder(offline_model: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(offline_model, copy)
    for name in ("policy.onnx", "policy.pt", "policy_spec.json", "code"):
        shutil.rmtree(copy / name) if (copy / name).is_dir() else (copy / name).unlink()
    done = run_rlrt(["export", "--model-dir", str(copy)], base=tmp_path / "job", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (copy / "code" / "inference.py").is_file() and (copy / "policy_spec.json").is_file()
    obs = observations(50)
    for name, value in onnx_outputs(offline_model, obs).items():
        np.testing.assert_allclose(onnx_outputs(copy, obs)[name], value, atol=TOL, rtol=TOL, err_msg=name)
    assert json.loads((copy / "metadata.json").read_text())["serving"]["temperature"] == 0.2


def test_an_encoder_with_layer_norm_keeps_onnx_and_says_why_there_is_no_savedmodel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import d3rlpy
    from d3rlpy.algos.utility import build_scalers_with_transition_picker

    from runtime.backends.d3rlpy.policy import serving_model
    from runtime.export.pipeline import export_serving_models

    rng = np.random.default_rng(0)
    n = 100
    dataset = d3rlpy.dataset.MDPDataset(
        rng.standard_normal((n, 4)).astype(np.float32),
        rng.integers(0, 2, n),
        rng.standard_normal(n).astype(np.float32),
        np.r_[np.zeros(n - 1), 1].astype(np.float32),
    )
    encoder = d3rlpy.models.VectorEncoderFactory([16], use_layer_norm=True)
    algo = d3rlpy.algos.DiscreteBCQConfig(
        encoder_factory=encoder, observation_scaler=d3rlpy.preprocessing.StandardObservationScaler()
    ).create(device="cpu:0")
    build_scalers_with_transition_picker(algo, dataset)
    algo.build_with_dataset(dataset)
    (tmp_path / "metadata.json").write_text(json.dumps({"framework": "d3rlpy"}))
    monkeypatch.setenv("RLRT_TF_PYTHON", sys.executable)  # TensorFlow "present": the description is what fails
    out = io.StringIO()
    with redirect_stderr(io.StringIO()):
        section = export_serving_models(tmp_path, stream=out, model=lambda: serving_model(algo, True, 1.0))
    assert "LayerNorm" in section["tensorflow_skipped"] and section["tensorflow_savedmodel"] is None
    assert "rlrt: no TensorFlow SavedModel: no plain-layer description of the policy: layer LayerNorm" in out.getvalue()
    assert (tmp_path / "policy.onnx").is_file() and not (tmp_path / "1").exists()
    assert section["max_abs_error"]["framework"] == 0.0
