"""Exports written at the end of training: TorchScript, ONNX, the TensorFlow SavedModel, metadata, code/."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trained_models import cartpole_model, reacher_model, tf_env, tf_python, training_output  # noqa: F401

TOL = 1e-5


def rllib_module_inputs(model_dir: Path, observations: np.ndarray) -> tuple[Any, np.ndarray]:
    """The checkpoint's RLModule and ``observations`` through its env-to-module MeanStdFilter, with RLlib's own
    classes (independent of export)."""
    from ray.rllib.connectors.env_to_module import EnvToModulePipeline
    from ray.rllib.core.rl_module.rl_module import RLModule
    from ray.rllib.utils.filter import MeanStdFilter as NumpyMeanStdFilter
    from ray.rllib.utils.filter import RunningStat

    checkpoint = model_dir / "checkpoint"
    module = RLModule.from_checkpoint(str(checkpoint / "learner_group/learner/rl_module/default_policy"))
    pipeline = EnvToModulePipeline.from_checkpoint(str(checkpoint / "env_runner/env_to_module_connector"))
    x = observations
    state = pipeline.get_state().get("MeanStdFilter")
    if state:
        agent = state[None]
        filt = NumpyMeanStdFilter(
            tuple(agent["shape"]),
            demean=agent["de_mean_to_zero"],
            destd=agent["de_std_to_one"],
            clip=agent["clip_by_value"],
        )
        filt.running_stats = RunningStat.from_state(agent["running_stats"][0])
        x = np.stack([filt(row, update=False) for row in observations])
    return module, x


def rllib_reference(model_dir: Path, observations: np.ndarray) -> dict[str, np.ndarray]:
    """What RLlib itself does at inference, from the checkpoint, with RLlib's own classes (independent of export)."""
    import torch
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    module, x = rllib_module_inputs(model_dir, observations)
    with torch.no_grad():
        logits = module.forward_inference({"obs": torch.as_tensor(x, dtype=torch.float32)})["action_dist_inputs"]
        dist = module.get_inference_action_dist_cls().from_logits(logits)
        action = dist.to_deterministic().sample().numpy()
    out = {}
    space = module.action_space
    if hasattr(space, "n"):
        out["actions"] = action
        out["action_probabilities"] = torch.softmax(logits, -1).numpy()
    else:
        out["actions"] = np.stack([unsquash_action(a, space) for a in action])
    return out


@pytest.mark.parametrize("which", ["cartpole", "reacher"])
def test_exports_match_the_trained_rllib_module(which: str, request: pytest.FixtureRequest) -> None:
    import onnxruntime as ort
    import torch

    tree = request.getfixturevalue(f"{which}_model")
    model = tree / "model"
    metadata = json.loads((model / "metadata.json").read_text())
    serving = metadata["serving"]
    dim = serving["inputs"]["observations"]["shape"][1]
    rng = np.random.default_rng(7)
    observations = (rng.standard_normal((256, dim)) * 2).astype(np.float32)
    expected = rllib_reference(model, observations)
    assert list(expected) == serving["outputs"]

    session = ort.InferenceSession(str(model / serving["onnx"]), providers=["CPUExecutionProvider"])
    onnx_out = dict(zip(serving["outputs"], session.run(None, {"observations": observations})))
    scripted = torch.jit.load(str(model / serving["torchscript"]))
    with torch.no_grad():
        ts_out = dict(zip(serving["outputs"], [t.numpy() for t in scripted(torch.as_tensor(observations))]))
    for name, reference in expected.items():
        np.testing.assert_allclose(onnx_out[name], reference, atol=TOL, rtol=0, err_msg=f"ONNX {name}")
        np.testing.assert_allclose(ts_out[name], reference, atol=TOL, rtol=0, err_msg=f"TorchScript {name}")
    if which == "reacher":
        # MeanStdFilter is baked in: the raw-observation policy differs from the module fed raw observations.
        assert metadata["serving"]["observation_filter"]
        low, high = np.array(serving["head"]["low"]), np.array(serving["head"]["high"])
        assert np.all(onnx_out["actions"] >= low) and np.all(onnx_out["actions"] <= high)
    else:
        np.testing.assert_allclose(onnx_out["action_probabilities"].sum(axis=1), 1.0, atol=1e-6)
        assert onnx_out["actions"].dtype == np.int64
    assert "rlrt: serving exports" in training_output(tree)["stdout"]


def test_tensorflow_savedmodel_matches_onnx(
    cartpole_model: Path, reacher_model: Path, tf_python: str | None, tf_env: tuple, tmp_path: Path
) -> None:
    """Both models' SavedModels, loaded by signature as TensorFlow Serving does, in TensorFlow's environment."""
    import onnxruntime as ort

    if tf_python is None:
        pytest.skip(f"the TensorFlow environment cannot be built here: {tf_env[1]}")
    models = {"cartpole": cartpole_model / "model", "reacher": reacher_model / "model"}
    args = []
    for name, model in models.items():
        serving = json.loads((model / "metadata.json").read_text())["serving"]
        assert serving["tensorflow_savedmodel"]["path"] == "1/", serving.get("tensorflow_skipped")
        assert (model / "1" / "saved_model.pb").is_file()
        dim = serving["inputs"]["observations"]["shape"][1]
        np.save(tmp_path / f"{name}.npy", (np.random.default_rng(3).standard_normal((100, dim)) * 3).astype(np.float32))
        args += [str(model / "1"), str(tmp_path / f"{name}.npy"), str(tmp_path / f"{name}.npz")]
    script = (
        "import sys, json, numpy as np, tensorflow as tf\n"
        "for saved, obs, out in zip(*[iter(sys.argv[1:])] * 3):\n"
        "    f = tf.saved_model.load(saved).signatures['serving_default']\n"
        "    print(json.dumps({'inputs': sorted(f.structured_input_signature[1]),\n"
        "                      'outputs': sorted(f.structured_outputs)}))\n"
        "    r = f(observations=tf.constant(np.load(obs)))\n"
        "    np.savez(out, **{k: v.numpy() for k, v in r.items()})\n"
    )
    done = subprocess.run(
        [tf_python, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    signatures = [json.loads(line) for line in done.stdout.strip().splitlines() if line.startswith("{")]
    for (name, model), signature in zip(models.items(), signatures):
        serving = json.loads((model / "metadata.json").read_text())["serving"]
        assert signature == {"inputs": ["observations"], "outputs": sorted(serving["outputs"])}
        observations = np.load(tmp_path / f"{name}.npy")
        tf_out = dict(np.load(tmp_path / f"{name}.npz"))
        session = ort.InferenceSession(str(model / "policy.onnx"), providers=["CPUExecutionProvider"])
        for output, value in zip(serving["outputs"], session.run(None, {"observations": observations})):
            np.testing.assert_allclose(tf_out[output], value, atol=TOL, rtol=0, err_msg=f"{name} {output}")


def test_a_sac_policy_exports_its_squashed_mode(tmp_path: Path, tf_python: str | None) -> None:
    """SAC's tanh-squashed Gaussian: every export returns tanh(mean) unsquashed to Pendulum's [-2, 2] torque."""
    import onnxruntime as ort
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    from tests.conftest import make_job_tree, run_rlrt

    preset = tmp_path / "sac.yaml"
    preset.write_text(
        json.dumps(
            {
                "name": "test-sac",
                "env": "Pendulum-v1",
                "algorithm": "SAC",
                "config": {"num_steps_sampled_before_learning_starts": 100},
                "stop": {"training_iteration": 1},
                "pass_bar": {"metric": "episode_reward_mean", "value": 0, "source": "test"},
            }
        )
    )
    tree = make_job_tree(tmp_path / "ml", {"preset": str(preset)})
    run = run_rlrt(["train"], base=tree.base, RLRT_TF_PYTHON=tf_python or "")
    assert run.returncode == 0, run.stderr[-3000:]
    serving = json.loads((tree.model / "metadata.json").read_text())["serving"]
    assert serving["head"]["kind"] == "squashed_gaussian" and serving["head"]["normalized"], serving

    observations = (np.random.default_rng(5).standard_normal((256, 3)) * 3).astype(np.float32)
    # Independently, with RLlib's own classes: the module's mean squashed by the distribution's own _squash.
    module = RLModule.from_checkpoint(str(tree.model / "checkpoint/learner_group/learner/rl_module/default_policy"))
    with torch.no_grad():
        logits = module.forward_inference({"obs": torch.as_tensor(observations)})["action_dist_inputs"]
        dist = module.get_inference_action_dist_cls().from_logits(logits)
        mode = dist._squash(dist.loc).numpy()
    expected = np.stack([unsquash_action(a, module.action_space) for a in mode])
    # What RLlib 2.60's to_deterministic() would send (the unsquashed mean, clipped): a different action.
    clipped = np.stack([unsquash_action(a, module.action_space) for a in np.clip(dist.loc.numpy(), -1, 1)])
    assert np.abs(clipped - expected).max() > 1e-3

    session = ort.InferenceSession(str(tree.model / serving["onnx"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"observations": observations})[0], expected, atol=TOL, rtol=0)
    scripted = torch.jit.load(str(tree.model / serving["torchscript"]))
    with torch.no_grad():
        np.testing.assert_allclose(scripted(torch.as_tensor(observations))[0].numpy(), expected, atol=TOL, rtol=0)
    if tf_python is not None:
        assert serving["tensorflow_savedmodel"]["path"] == "1/", serving.get("tensorflow_skipped")
        np.save(tmp_path / "obs.npy", observations)
        script = (
            "import sys, numpy as np, tensorflow as tf\n"
            "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
            "np.save(sys.argv[3], f(observations=tf.constant(np.load(sys.argv[2])))['actions'].numpy())\n"
        )
        done = subprocess.run(
            [tf_python, "-c", script, str(tree.model / "1"), str(tmp_path / "obs.npy"), str(tmp_path / "tf.npy")],
            capture_output=True,
            text=True,
            timeout=180,
            env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        np.testing.assert_allclose(np.load(tmp_path / "tf.npy"), expected, atol=TOL, rtol=0)


def test_metadata_and_code_folder(cartpole_model: Path) -> None:
    model = cartpole_model / "model"
    metadata = json.loads((model / "metadata.json").read_text())
    assert metadata["framework"] == "rllib"
    serving = metadata["serving"]
    for key in ("torchscript", "onnx", "policy_spec", "code"):
        assert (model / serving[key]).is_file(), key
    assert (model / "code" / "rlrt_codec.py").is_file()
    spec = json.loads((model / "policy_spec.json").read_text())
    assert spec["format"] == "rlrt-policy-spec/1" and spec["observation_dim"] == 4


def test_pytorch_container_handlers_answer_the_seed_request(cartpole_model: Path) -> None:
    """code/inference.py loaded as SageMaker's PyTorch container does (code/ on sys.path, rlrt not importable)."""
    model = cartpole_model / "model"
    script = (
        "import sys, json\n"
        "sys.modules['runtime'] = None  # rlrt is not installed in the container\n"
        "sys.path.insert(0, sys.argv[1] + '/code')\n"
        "import inference\n"
        "assert inference.codec.__name__ == 'rlrt_codec', inference.codec.__name__\n"
        "assert inference.codec.number_rows.__name__ == 'rlrt_number_rows'\n"
        "m = inference.model_fn(sys.argv[1])\n"
        "body = json.dumps({'inputs': {'observations': [[0.0, 0.1, 0.0, -0.1]], 'prev_action': [0, 0],"
        " 'is_training': False, 'prev_reward': -1, 'seq_lens': -1}})\n"
        "data = inference.input_fn(body, 'application/json')\n"
        "out, kind = inference.output_fn(inference.predict_fn(data, m), 'application/json')\n"
        "print(kind); print(out.decode())\n"
        "data = inference.input_fn('1,2,3,4\\n0,0,0,0\\n', 'text/csv')\n"
        "out, kind = inference.output_fn(inference.predict_fn(data, m), None)\n"
        "print(out.decode())\n"
    )
    # Run from a folder where `runtime` is not importable, as inside the container.
    done = subprocess.run(
        [sys.executable, "-c", script, str(model)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(model),
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "application/json"
    first = json.loads(lines[1])
    assert set(first["outputs"]) == {"actions", "action_probabilities"} and len(first["outputs"]["actions"]) == 1
    assert len(json.loads(lines[2])["predictions"]) == 2


def test_tensorflow_serving_container_handlers(cartpole_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """input_handler/output_handler around TensorFlow Serving (its answers faked at the HTTP boundary)."""
    from collections import namedtuple

    from runtime.serving import sagemaker_inference as handlers

    monkeypatch.setenv("SM_MODEL_DIR", str(cartpole_model / "model"))
    # The container's context is a namedtuple (immutable).
    Context = namedtuple("Context", "request_content_type accept_header custom_attributes")
    context = Context("application/json", "application/json", None)
    seed = {
        "inputs": {
            "observations": [[1.0, 1.0, 1.0, 1.0]],
            "prev_action": [0, 0],
            "is_training": False,
            "prev_reward": -1,
            "seq_lens": -1,
        }
    }
    forwarded = json.loads(handlers.input_handler(json.dumps(seed).encode(), context))
    assert forwarded == {"inputs": {"observations": [[1.0, 1.0, 1.0, 1.0]]}}
    tfs = types.SimpleNamespace(
        status_code=200,
        content=json.dumps({"outputs": {"actions": [1], "action_probabilities": [[0.25, 0.75]]}}).encode(),
    )
    body, kind = handlers.output_handler(tfs, context)
    assert kind == "application/json"
    assert json.loads(body) == {"outputs": {"actions": [1], "action_probabilities": [[0.25, 0.75]]}}

    lines = Context("application/jsonlines", None, None)
    assert json.loads(handlers.input_handler(b"[0, 0, 0, 0]\n[1, 1, 1, 1]\n", lines)) == {
        "instances": [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    }
    tfs = types.SimpleNamespace(
        status_code=200,
        content=json.dumps(
            {
                "predictions": [
                    {"actions": 0, "action_probabilities": [0.6, 0.4]},
                    {"actions": 1, "action_probabilities": [0.1, 0.9]},
                ]
            }
        ).encode(),
    )
    body, kind = handlers.output_handler(tfs, lines)
    assert kind == "application/jsonlines"
    assert [json.loads(line) for line in body.decode().splitlines()] == [
        {"predictions": [[0.6, 0.4]]},
        {"predictions": [[0.1, 0.9]]},
    ]


def test_an_unexportable_model_is_recorded_and_rlrt_export_says_why(tmp_path: Path) -> None:
    from runtime.errors import UserError
    from runtime.export.pipeline import export_serving_models
    from runtime.plugins import INSTALLED
    from tests.conftest import run_rlrt

    (tmp_path / "metadata.json").write_text(json.dumps({"framework": "rllib"}))
    rllib = INSTALLED.backend_named("rllib")
    assert rllib is not None
    with pytest.raises(UserError, match="not an RLlib"):
        export_serving_models(tmp_path, lambda: rllib.serving_model(tmp_path), stream=open(tmp_path / "log.txt", "w"))
    section = json.loads((tmp_path / "metadata.json").read_text())["serving"]
    assert "not an RLlib (new API stack) checkpoint" in section["error"]
    done = run_rlrt(["export", "--model-dir", str(tmp_path)], base=tmp_path / "job", timeout=120)
    assert done.returncode == 2 and "not an RLlib (new API stack) checkpoint" in done.stderr


def test_a_recurrent_policy_says_at_the_start_that_it_will_not_serve(tmp_path: Path) -> None:
    """use_lstm: one line as the job starts, then after training the checkpoint kept and the reason, not a KeyError
    from the exporter."""
    from tests.conftest import make_job_tree, run_rlrt

    tree = make_job_tree(
        tmp_path / "ml",
        {
            "rl.training.config.model_config": {"use_lstm": True, "max_seq_len": 8},
            "rl.training.config.train_batch_size_per_learner": 256,
            "rl.training.config.minibatch_size": 128,
            "rl.training.config.num_epochs": 1,
            "rl.training.stop.training_iteration": 1,
        },
    )
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr[-3000:]
    assert "rlrt: model_config use_lstm trains a recurrent policy, which rlrt's exports cannot serve" in run.stdout
    failure = tree.failure.read_text()
    assert failure.startswith("Training finished, but the model cannot be served: rlrt cannot export a recurrent")
    assert "KeyError" not in failure and (tree.model / "checkpoint").is_dir()
    assert json.loads((tree.model / "metadata.json").read_text())["serving"]["error"].startswith("rlrt cannot export")
