"""A Coach model's endpoint answers as SageMaker RL Coach's MXNet serving did: the CartPole Coach example's Clipped
PPO job (trained by its own train-coach.py), served by ``rlrt serve`` on loopback, asked as the notebook asks
(``predictor.predict(observation)``: a bare JSON list) and unpacked as the notebook unpacks it; its ``model.onnx`` is
run as the example's deploy-mxnet-coach.py runs it (its ``transform_fn``'s steps, ONNX Runtime for MXNet). An rlrt
preset's model keeps rlrt's answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests

from runtime.serving.app import InferenceApp, call
from tests.conftest import start_rlrt
from tests.jobs.test_sagemaker_rl_coach_jobs import coach_cartpole, transform_fn  # noqa: F401
from tests.jobs.test_serving_export import rllib_module_inputs
from tests.jobs.test_serving_server import free_port, stop, wait_until_ready
from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401

OBSERVATIONS = [[0.1, 0.2, 0.3, 0.4], [-0.02, 0.5, 0.04, -0.7], [1.5, -2.0, -0.15, 1.2]]
JSON = {"Content-Type": "application/json"}


@pytest.mark.slow
def test_a_coach_models_endpoint_answers_the_notebooks_request_as_coach_did(
    coach_cartpole: Path, tmp_path: Path
) -> None:
    import onnx
    import torch

    model_dir = coach_cartpole / "model"
    graph = onnx.load(str(model_dir / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["observations"]  # one input: [batch, 4] float32
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim][1:] == [4]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [o.name for o in graph.output] == ["state_value", "action_probabilities"]  # Coach's order

    port = free_port()
    log = tmp_path / "serve.log"
    process = start_rlrt(
        ["serve", "--host", "127.0.0.1"],
        base=coach_cartpole,
        log=log,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
    )
    url = f"http://127.0.0.1:{port}/invocations"
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", process, log)
        answers = []
        for observation in OBSERVATIONS:
            # The notebook: predictor.predict(obs) with the MXNet predictor's JSON serializer.
            response = requests.post(url, data=json.dumps(observation), headers=JSON, timeout=10)
            assert response.status_code == 200, response.text
            answer = response.json()
            value, action = answer  # the notebook's unpacking
            probabilities = answer[1][0]  # and the game classes' predict(...)[1][0]
            assert len(value) == 1 and len(action) == 1 and len(probabilities) == 2
            assert abs(sum(probabilities) - 1) < 1e-6
            # The same model.onnx as deploy-mxnet-coach.py would run it.
            mxnet_value, mxnet_action = transform_fn(model_dir, json.dumps(observation))
            np.testing.assert_allclose(mxnet_value, value, atol=1e-6)
            np.testing.assert_allclose(mxnet_action, action, atol=1e-6)
            # The deterministic action rlrt serves for the same observation (a columnar request).
            rlrt = requests.post(url, json={"inputs": {"observations": [observation]}}, timeout=10).json()
            assert rlrt["outputs"]["actions"] == [int(np.argmax(probabilities))]
            answers.append(answer)
        # An rlrt-shaped request to the Coach model still gets rlrt's answer.
        rows = requests.post(url, json={"instances": OBSERVATIONS}, timeout=10).json()
        np.testing.assert_allclose(rows["predictions"], [a[1][0] for a in answers], atol=1e-6)
        # A Coach-shaped request of the wrong length says what to send.
        wrong = requests.post(url, data="[0.1, 0.2, 0.3]", headers=JSON, timeout=10)
        assert wrong.status_code == 400
        assert "must hold the observation's 4 numbers, got 3" in wrong.json()["error"]
    finally:
        code = stop(process)
    assert code == 0 and "Traceback" not in log.read_text(), log.read_text()[-3000:]

    # The numbers are the trained policy's: RLlib's own module from the checkpoint, its MeanStdFilter applied by
    # RLlib's filter class; PPO's value head and the softmax of the action logits.
    module, x = rllib_module_inputs(model_dir, np.array(OBSERVATIONS, dtype=np.float32))
    with torch.no_grad():
        batch = {"obs": torch.as_tensor(x, dtype=torch.float32)}
        values = module.compute_values(batch).numpy()
        logits = module.forward_inference(batch)["action_dist_inputs"]
    np.testing.assert_allclose([a[0][0] for a in answers], values, atol=1e-5, rtol=0)
    np.testing.assert_allclose([a[1][0] for a in answers], torch.softmax(logits, -1).numpy(), atol=1e-5, rtol=0)


def test_an_rlrt_presets_model_keeps_rlrts_answer(cartpole_model: Path) -> None:
    model_dir = cartpole_model / "model"
    assert not (model_dir / "model.onnx").exists()
    assert "coach" not in json.loads((model_dir / "metadata.json").read_text())["serving"]
    app = InferenceApp(model_dir)
    status, _, body = call(app, "POST", "/invocations", json.dumps(OBSERVATIONS[0]).encode(), JSON)
    assert status == 200
    answer = json.loads(body)
    assert list(answer) == ["predictions"] and len(answer["predictions"]) == 1
    assert abs(sum(answer["predictions"][0]) - 1) < 1e-6
