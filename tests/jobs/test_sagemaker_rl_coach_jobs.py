"""SageMaker RL's Coach launcher (``sagemaker_rl.coach_launcher``) in script mode: the CartPole Coach example's
presets (../shared/coach, its byte-for-byte ``train-coach.py``) train as the notebook launches them; the Batch RL
example's preset file trains d3rlpy's DiscreteBCQ and its evaluate-coach.py plays the result; without the file, the
Batch RL notebook's preset name trains rlrt's preset for the problem; ``rlrt train --preset src/preset-x.py``."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from runtime.offline.collect import collect
from tests.conftest import REPO_ROOT
from tests.conftest import JobTree, run_rlrt
from tests.jobs.test_sagemaker_rl_jobs import run_script_mode
from tests.jobs.test_serving_export import rllib_module_inputs
from tests.quiet_logs import gym_notice, unexpected_lines
from tests.trained_models import run_temp

COACH = REPO_ROOT.parent / "shared" / "coach"
CARTPOLE, BATCH = COACH / "rl_cartpole_coach" / "src", COACH / "rl_cartpole_batch_coach" / "src"
NOTEBOOK = {
    "rl.agent_params.algorithm.discount": 0.9,
    "rl.evaluation_steps:EnvironmentEpisodes": 8,
    "improve_steps": 1,
    "save_model": 1,
}
"""The notebook's hyperparameters, with Coach's own tiny stop (its improve_steps 10000 -> 1 training step)."""

COACH_SCRIPT = """
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class BatchLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-ddqnbcq"


if __name__ == "__main__":
    BatchLauncher.train_main()
"""

TINY = {
    "save_model": 1,
    "evaluate_episodes": 2,
    "rl.training.config.n_steps_per_epoch": 40,
    "rl.training.config.batch_size": 32,
    "rl.training.config.evaluation_episodes": 2,
    "rl.training.config.fqe_steps": 10,
    "rl.training.config.hidden_units": [32, 32],
    "rl.training.stop.epochs": 1,
}


@pytest.mark.slow
def test_coach_launcher_trains_the_rlrt_preset_for_the_seed_name(tmp_path: Path) -> None:
    rollouts = tmp_path / "cartpole.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=1, output=rollouts, seed=0, progress=False)
    run, tree = run_script_mode(
        tmp_path,
        "train-coach.py",
        {"train-coach.py": COACH_SCRIPT},
        TINY,
        prepare=lambda t: shutil.copy(rollouts, t.channel("train") / "rollouts.csv"),
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "preset cartpole-bcq" in output and (tree.model / "policy.onnx").is_file()


BATCH_FILES = ("train-coach.py", "preset-cartpole-ddqnbcq.py", "preset-cartpole-ddqnbcq-env.py")


def train_batch_preset(tmp_path: Path, hyperparameters: dict) -> tuple[str, JobTree]:
    """The Batch RL example's train-coach.py and preset files in source_dir, a few rollouts of a random policy in the
    train channel (the preset's CsvDataset 'cartpole_dataset.csv' is not in source_dir)."""
    rollouts = tmp_path / "cartpole.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=1, output=rollouts, seed=0, progress=False)
    files = {name: (BATCH / name).read_text() for name in BATCH_FILES}
    run, tree = run_script_mode(
        tmp_path,
        "train-coach.py",
        files,
        hyperparameters,
        prepare=lambda t: shutil.copy(rollouts, t.channel("train") / "rollouts.csv"),
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    return output, tree


@pytest.mark.slow
def test_the_batch_rl_preset_file_trains_discrete_bcq_on_its_data(tmp_path: Path) -> None:
    """The Batch RL seed's own preset file (BatchRLGraphManager, DDQN-BCQ, CsvDataset) is read, not matched by
    name: d3rlpy's DiscreteBCQ with the preset's settings, on the train channel's data, evaluated on the -env
    variant's CartPole-v0. The notebook's hyperparameters, and the script's improve_steps for a tiny stop."""
    output, tree = train_batch_preset(
        tmp_path, {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq", "save_model": 1, "improve_steps": 1}
    )
    assert (
        "rlrt: training the Coach preset file preset-cartpole-ddqnbcq.py from source_dir (DiscreteBCQ on "
        "CartPole-v0)" in output
    )
    assert "preset cartpole-bcq" not in output  # the file, not rlrt's preset of that name
    assert (
        "rlrt: preset-cartpole-ddqnbcq: agent_params.algorithm.action_drop_method_parameters: KNNParameters -> "
        "action_flexibility 0.3" in output
    )
    assert "CsvDataset('cartpole_dataset.csv') is not in source_dir: the data in" in output
    assert (
        "rlrt's preset 'cartpole-bcq' is tuned for this problem with d3rlpy (delete preset-cartpole-ddqnbcq.py "
        "from source_dir to train it instead)" in output
    )
    # Its TF1 model-saving override (the only place it imports TensorFlow) is named, never called.
    assert (
        "rlrt: preset-cartpole-ddqnbcq: MyLauncher._save_tf_model() not called: rlrt exports the model itself" in output
    )
    assert unexpected_lines(output) == []
    assert (tree.model / "policy.onnx").is_file() and not tree.failure.exists()
    config = json.loads((tree.model / "config.json").read_text())
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert config["env"] == "CartPole-v0" and metadata["algorithm"] == "DiscreteBCQ"
    assert config["stop"] == {"epochs": 1}
    settings = config["config"]
    assert settings["hidden_units"] == [256, 512]  # DQN's Medium embedder and middleware
    assert settings["learning_rate"] == 0.0001 and settings["batch_size"] == 128 and settings["gamma"] == 0.99
    assert settings["target_update_interval"] == 50 and settings["action_flexibility"] == 0.3
    assert settings["q_func_factory"] == "mean_squared_error"  # the preset's replace_mse_with_huber_loss False
    rows = sum(1 for _ in (tree.channel("train") / "rollouts.csv").open()) - 1
    assert settings["n_steps_per_epoch"] == -(-rows // 128)  # one pass over the data, as Coach's epoch


def test_a_train_coach_importing_tensorflow_fails_at_once_naming_what_to_delete(tmp_path: Path) -> None:
    """The Batch RL example's train-coach.py imports TensorFlow inside its TF1 model-saving override; with that
    import at the top of the file (where a script written for Coach's TensorFlow image may have it), the job fails
    before any training, output/failure naming TensorFlow, the file and line, and what to delete."""
    text = (BATCH / "train-coach.py").read_text()
    assert "        import tensorflow as tf\n" in text and "def _save_tf_model(self):" in text
    files = {name: (BATCH / name).read_text() for name in BATCH_FILES}
    files["train-coach.py"] = "import tensorflow as tf\n" + text
    run, tree = run_script_mode(
        tmp_path, "train-coach.py", files, {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq", "save_model": 1}, timeout=120
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "rlrt: loading the Coach preset" not in output  # at once: the script's first line
    failure = tree.failure.read_text()
    assert failure.startswith(
        "The entry point train-coach.py failed (ExecuteUserScriptError: exit code 1): "
        "ModuleNotFoundError: No module named 'tensorflow' (train-coach.py, line 1). "
        "TensorFlow is not in rlrt's image"
    ), failure
    assert "Delete the `import tensorflow` from train-coach.py and any TF1 model-saving method" in failure
    assert "_save_tf_model() override: rlrt never calls it" in failure and len(failure) <= 1024


def transform_fn(model_dir: Path, data: str) -> list:
    """deploy-mxnet-coach.py's model_fn and transform_fn, ONNX Runtime in MXNet's place: load model.onnx, feed
    ``array(json.loads(data)).expand_dims(0)`` to its one input, answer ``[o.tolist() for o in output]``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    (single,) = session.get_inputs()
    input_nd = np.expand_dims(np.array(json.loads(data), dtype=np.float32), 0)
    return [o.tolist() for o in session.run(None, {single.name: input_nd})]


def cartpole_files(preset: str, edit: tuple[str, str] | None = None) -> dict[str, str]:
    """The example's train-coach.py and ``preset``, as uploaded (``edit``: one replacement in the preset)."""
    text = (CARTPOLE / f"{preset}.py").read_text()
    if edit is not None:
        assert edit[0] in text
        text = text.replace(*edit)
    return {"train-coach.py": (CARTPOLE / "train-coach.py").read_text(), f"{preset}.py": text}


def train_cartpole(tmp_path: Path, preset: str, edit: tuple[str, str] | None = None) -> tuple[str, dict, dict]:
    run, tree = run_script_mode(
        tmp_path, "train-coach.py", cartpole_files(preset, edit), {"RLCOACH_PRESET": preset, **NOTEBOOK}
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert f"rlrt: training the Coach preset file {preset}.py from source_dir" in output
    assert "rlrt: applying RL hyperparameter rl.improve_steps:TrainingSteps=1" in output  # the script's mapping
    assert unexpected_lines(output) == []
    # The SDK's Coach metric definitions: ^Training>.*Total reward=(.*?), and ^Testing>.*Total reward=(.*?),
    assert any(line.startswith("Training>") and "Total reward=" in line for line in output.splitlines()), output[-3000:]
    testing = [line for line in output.splitlines() if line.startswith("Testing>") and "Total reward=" in line]
    assert len(testing) == 8, output[-3000:]  # rl.evaluation_steps:EnvironmentEpisodes = 8
    assert (tree.model / "policy.onnx").is_file() and not tree.failure.exists()
    # The notebook's "Plot metrics" cell reads Coach's CSV: one row per evaluation episode, training rows before.
    with (tree.intermediate / "worker_0.simple_rl_graph.main_level.main_level.agent_0.csv").open() as handle:
        coach_rows = list(csv.DictReader(handle))
    assert len([row for row in coach_rows if row["Evaluation Reward"]]) == 8, coach_rows
    assert {"Episode #", "Training Reward", "Evaluation Reward"} <= set(coach_rows[0])
    metadata = json.loads((tree.model / "metadata.json").read_text())
    config = json.loads((tree.model / "config.json").read_text())
    assert metadata["env"] == "CartPole-v0" and config["env"] == "CartPole-v0"
    # TrainingSteps(1): Clipped PPO's one whole evaluation period of EnvironmentSteps(204); DQN's periods count
    # episodes, so its 1 step, after the preset's heatup of EnvironmentSteps(1000).
    assert config["stop"] == {"timesteps_total": 1001 if preset == "preset-cartpole-dqn" else 204}
    return output, metadata, config


@pytest.mark.slow
def test_the_cartpole_clipped_ppo_preset_trains_as_the_notebook_launches_it(tmp_path: Path) -> None:
    output, metadata, config = train_cartpole(tmp_path, "preset-cartpole-clippedppo")
    assert metadata["algorithm"] == "PPO"
    # The translation says where each setting came from; no block calling them "this command's" values.
    assert "this command" not in output
    settings = config["config"]
    assert settings["gamma"] == 0.9  # the notebook's rl.agent_params.algorithm.discount over the preset's 0.99
    assert settings["lr"] == 0.0003 and settings["clip_param"] == 0.2 and settings["lambda"] == 0.95
    assert settings["num_epochs"] == 10 and settings["minibatch_size"] == 64 and settings["entropy_coeff"] == 0
    assert settings["train_batch_size_per_learner"] == 2048
    assert settings["model_config"]["fcnet_hiddens"] == [64, 64]
    assert settings["model_config"]["fcnet_activation"] == "tanh"
    # What has no RLlib counterpart is named, one line each.
    assert (
        "rlrt: preset-cartpole-clippedppo: agent_params.algorithm.clipping_decay_schedule: LinearSchedule not "
        "translated" in output
    )
    # Coach's observation normalisation is RLlib's MeanStdFilter, its statistics baked into the exported model.
    assert (
        "agent_params.pre_network_filter.observation_filters.observation.normalize_observation: "
        "ObservationNormalizationFilter -> observation_filter MeanStdFilter" in output
    )
    assert settings["observation_filter"] == "MeanStdFilter"
    assert "MeanStdFilter (baked in: takes raw observations)" in json.dumps(metadata)
    # The preset's dump_gifs: the evaluation episodes are filmed (the first 5 of the 8).
    videos = sorted(p.name for p in (tmp_path / "ml" / "output" / "intermediate").glob("evaluation-episode-*.mp4"))
    assert videos == [f"evaluation-episode-{n:04d}.mp4" for n in range(1, 6)], output[-3000:]
    # And GIFs where the notebook's gif cell looks (intermediate/gifs/*.gif, sorted by its regex): each one
    # episode's, named with the return its Testing> line gave.
    gifs = list((tmp_path / "ml" / "output" / "intermediate" / "gifs").glob("*.gif"))
    gifs.sort(key=lambda gif: int(re.search(r".*episode-(\d*)_.*", str(gif), re.IGNORECASE).group(1)))
    scores = {int(n): float(r) for n, r in re.findall(r"^Testing>.*Episode=(\d+), Total reward=([\d.]+)", output, re.M)}
    assert [(p.name.split("_")[0], float(p.stem.split("score-")[1])) for p in gifs] == [
        (f"episode-{n}", scores[n]) for n in range(1, 6)
    ], output[-3000:]
    assert all(p.read_bytes()[:6] == b"GIF89a" for p in gifs)
    # An edited preset trains what it says.
    edited = tmp_path / "edited"
    edited.mkdir()
    _, _, other = train_cartpole(
        edited, "preset-cartpole-clippedppo", ("learning_rate = 0.0003", "learning_rate = 0.001")
    )
    assert other["config"]["lr"] == 0.001 and {**other["config"], "lr": 0.0003} == settings


def evaluate_as_the_notebook(
    tmp_path: Path, source: Path, names: tuple[str, ...], preset: str | None, steps: int, trained: Path
) -> tuple[str, list[int]]:
    """The example's own evaluate-coach.py as its notebook runs it: its source dir (``names`` beside the script),
    the training job (tree ``trained``)'s checkpoint (SageMaker's output/data/checkpoint) in the 'checkpoint'
    channel, ``evaluate_steps`` and ``RLCOACH_PRESET`` (None: none, the script's default_preset_name() names it);
    returns the job's output and its episodes' lengths."""
    files = {name: (source / name).read_text() for name in ("evaluate-coach.py", *names)}
    checkpoint = trained / "output" / "data" / "checkpoint"
    given = {"evaluate_steps": steps} if preset is None else {"RLCOACH_PRESET": preset, "evaluate_steps": steps}
    run, evaluation = run_script_mode(
        tmp_path,
        "evaluate-coach.py",
        files,
        given,
        prepare=lambda t: shutil.copytree(checkpoint, t.channel("checkpoint"), dirs_exist_ok=True),
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "rlrt's evaluator (`rlrt evaluate-offline`) plays the model" in output  # the example's script swapped
    lengths = [int(s) for _, _, s in TESTING.findall(output)]
    assert lengths and sum(lengths) >= steps > sum(lengths[:-1]), output[-3000:]
    assert (evaluation.intermediate / "evaluation.json").is_file() and not evaluation.failure.exists()
    return output, lengths


@pytest.fixture(scope="session")
def coach_cartpole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ml tree of the CartPole example's Clipped PPO job as the notebook launches it (:func:`train_cartpole`'s
    checks), trained once for the tests that use what it wrote (its checkpoint, its model's endpoint); a file lock
    makes other pytest-xdist workers wait for it."""
    base = run_temp(tmp_path_factory) / "trained-coach-cartpole"
    with FileLock(str(base) + ".lock", timeout=900):
        if not (base / "trained.json").exists():
            base.mkdir(parents=True, exist_ok=True)
            output, _, _ = train_cartpole(base, "preset-cartpole-clippedppo")
            (base / "trained.json").write_text(json.dumps({"output": output}))
    return base / "ml"


@pytest.mark.slow
def test_the_cartpole_examples_evaluate_coach_plays_the_trained_policy(tmp_path: Path, coach_cartpole: Path) -> None:
    """The CartPole example's second step: its evaluate-coach.py on the training job's checkpoint."""
    preset = "preset-cartpole-clippedppo"
    output, _ = evaluate_as_the_notebook(
        tmp_path / "evaluate", CARTPOLE, (f"{preset}.py",), preset, 2000, coach_cartpole
    )
    assert re.search(r"rlrt: evaluating PPO model from \S+/checkpoint on CartPole-v0 for 2000 steps", output)


@pytest.mark.slow
def test_a_restarted_coach_job_resumes_and_save_model_0_still_writes_the_model(tmp_path: Path) -> None:
    """A managed-spot restart: the second attempt runs in the same tree (/opt/ml/checkpoints holds the first one's
    checkpoints) with a larger stop, resumes from the first attempt's checkpoint and finishes. save_model 0 (the
    launcher's default: SageMaker RL then wrote no model) is named in a line; model/ is written all the same."""
    files = cartpole_files("preset-cartpole-clippedppo")
    given = {"RLCOACH_PRESET": "preset-cartpole-clippedppo", **NOTEBOOK, "save_model": 0}
    first, tree = run_script_mode(tmp_path, "train-coach.py", files, given)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    assert (
        "rlrt: preset-cartpole-clippedppo: save_model: 0 -> model/ written all the same: SageMaker RL's Coach "
        "launcher then saved no model into model/" in output
    )
    assert "rlrt: resumed from" not in output and (tree.checkpoints / "checkpoint_000001").is_dir()
    assert (tree.model / "policy.onnx").is_file() and (tree.base / "output" / "data" / "checkpoint").is_dir()
    second, tree = run_script_mode(tmp_path, "train-coach.py", files, {**given, "improve_steps": 2100})
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:]
    assert re.search(r"^rlrt: resumed from \S+/checkpoints/checkpoint_000001 \(iteration 1, ", output, re.M), output[
        -3000:
    ]
    after = output.split("rlrt: resumed from", 1)[1]
    assert "training_iteration: 2" in after and "training_iteration: 1\n" not in after
    # 2100 training steps: 11 evaluation periods of 204 environment steps, reached by the second batch of 2048
    assert "rlrt: done (timesteps_total 4096 >= 2244)" in after and "timesteps_total: 4096" in after
    assert len([line for line in after.splitlines() if line.startswith("Testing>")]) == 8
    assert json.loads((tree.model / "metadata.json").read_text())["training"]["training_iteration"] == 2


@pytest.mark.slow
def test_the_cartpole_dqn_preset_trains_as_the_notebook_launches_it(tmp_path: Path) -> None:
    _, metadata, config = train_cartpole(tmp_path, "preset-cartpole-dqn")
    assert metadata["algorithm"] == "DQN"
    settings = config["config"]
    assert settings["gamma"] == 0.9 and settings["lr"] == 0.00025
    assert settings["double_q"] is False and settings["dueling"] is False
    assert settings["target_network_update_freq"] == 100 and settings["replay_buffer_config"]["capacity"] == 40000
    assert settings["epsilon"] == [[0, 1.0], [10000, 0.01]]
    assert settings["num_steps_sampled_before_learning_starts"] == 1000
    assert settings["model_config"]["fcnet_hiddens"] == [256, 512]  # Coach's Medium embedder and middleware
    # Coach's DQN model.onnx had one output, the QHead's Q-values: its deploy-mxnet-coach.py answered [[[q0, q1]]].
    import torch

    assert metadata["serving"]["coach"]["outputs"] == ["q_values"]
    observation = [0.1, -0.2, 0.03, 0.4]
    (q_values,) = transform_fn(tmp_path / "ml" / "model", json.dumps(observation))
    module, x = rllib_module_inputs(tmp_path / "ml" / "model", np.array([observation], dtype=np.float32))
    with torch.no_grad():
        expected = module.compute_q_values({"obs": torch.as_tensor(x)})["qf_preds"].numpy()
    np.testing.assert_allclose(q_values, expected, atol=1e-5, rtol=1e-5)


MOUNTAIN_CAR = COACH / "rl_mountain_car_coach_gymEnv" / "src"


@pytest.mark.slow
def test_the_mountain_car_preset_trains_its_own_environment_class(tmp_path: Path) -> None:
    """The Mountain Car example's continuous Clipped PPO preset: its env is
    ``patient_envs:PatientContinuousMountainCar`` in source_dir; its train-coach.py maps the notebook's shortcut names
    (tiny values here)."""
    preset = "preset-mountain-car-continuous-clipped-ppo"
    files = {name: (MOUNTAIN_CAR / name).read_text() for name in ("train-coach.py", "patient_envs.py", f"{preset}.py")}
    run, tree = run_script_mode(
        tmp_path,
        "train-coach.py",
        files,
        {
            "RLCOACH_PRESET": preset,
            "discount": 0.995,
            "gae_lambda": 0.997,
            "evaluation_episodes": 1,
            "improve_steps": 600,
            "training_freq_env_steps": 600,
            "training_learning_rate": 0.004,
            "training_batch_size": 256,
            "training_epochs": 1,
            "save_model": 1,
        },
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert (
        f"rlrt: training the Coach preset file {preset}.py from source_dir (PPO on "
        "sagemaker_rl/patient_envs.PatientContinuousMountainCar)" in output
    )
    assert len([line for line in output.splitlines() if line.startswith("Testing>")]) == 1
    # The example's patient_envs.py imports gym, which prints its notice once; the rollout video is filmed.
    assert unexpected_lines(output, expected=gym_notice()) == [] and "rollout video rollout-final-iteration" in output
    assert (tree.model / "policy.onnx").is_file()
    config = json.loads((tree.model / "config.json").read_text())
    settings = config["config"]
    assert config["env"] == "sagemaker_rl/patient_envs.PatientContinuousMountainCar"
    assert config["stop"] == {"timesteps_total": 600}  # improve_steps is EnvironmentSteps in this script
    assert settings["gamma"] == 0.995 and settings["lambda"] == 0.997 and settings["lr"] == 0.004
    assert settings["train_batch_size_per_learner"] == 600 and settings["minibatch_size"] == 256
    assert settings["num_epochs"] == 1 and settings["clip_param"] == 0.3
    assert settings["model_config"]["fcnet_hiddens"] == [32, 32]
    check_continuous_coach_answer(tree.model)
    # The notebook's second step: its evaluate-coach.py (the notebook's evaluate_steps 20000 -> 300) in the
    # preset's own environment, registered from source_dir as the training job registered it.
    output, _ = evaluate_as_the_notebook(
        tmp_path / "evaluate", MOUNTAIN_CAR, ("patient_envs.py", f"{preset}.py"), preset, 300, tree.base
    )
    assert "rlrt: evaluating PPO model from " in output
    assert " on sagemaker_rl/patient_envs.PatientContinuousMountainCar for 300 steps" in output


def check_continuous_coach_answer(model_dir: Path) -> None:
    """Coach's continuous PPO model.onnx answered [value, mean, std]: the notebook's request (one observation, a
    bare JSON list) to the endpoint and to deploy-mxnet-coach.py's transform_fn unpacks as ``value, mean, std``, the
    numbers RLlib's own module from the checkpoint gives (its MeanStdFilter applied by RLlib's filter class): PPO's
    value head and its TorchDiagGaussian's inputs [mean, log_std]; the car's bounds [-1, 1] make the unsquash the
    identity. rlrt's answer to a columnar request is that mean, clipped."""
    import torch

    from runtime.serving.app import InferenceApp, call

    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["serving"]["coach"]["outputs"] == ["state_value", "action_mean", "action_std"]
    assert "coach_skipped" not in metadata["serving"]
    observations = [[-0.5, 0.0], [-1.1, 0.06], [0.4, -0.03]]
    app = InferenceApp(model_dir)
    answers = []
    for observation in observations:
        status, _, body = call(
            app, "POST", "/invocations", json.dumps(observation).encode(), {"Content-Type": "application/json"}
        )
        assert status == 200, body
        answer = json.loads(body)
        value, mean, std = answer  # [[v], [[m]], [[s]]]: MXNet's batch of one
        assert len(value) == 1 and np.shape(mean) == (1, 1) and np.shape(std) == (1, 1) and std[0][0] > 0
        assert transform_fn(model_dir, json.dumps(observation)) == answer
        answers.append(answer)
    module, x = rllib_module_inputs(model_dir, np.array(observations, dtype=np.float32))
    with torch.no_grad():
        batch = {"obs": torch.as_tensor(x, dtype=torch.float32)}
        values = module.compute_values(batch).numpy()
        inputs = module.forward_inference(batch)["action_dist_inputs"].numpy()
    np.testing.assert_allclose([a[0][0] for a in answers], values, atol=1e-5, rtol=0)
    np.testing.assert_allclose([a[1][0][0] for a in answers], inputs[:, 0], atol=1e-5, rtol=0)
    np.testing.assert_allclose([a[2][0][0] for a in answers], np.exp(inputs[:, 1]), atol=1e-5, rtol=0)
    status, _, body = call(
        app,
        "POST",
        "/invocations",
        json.dumps({"inputs": {"observations": observations}}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200, body
    np.testing.assert_allclose(json.loads(body)["outputs"]["actions"], np.clip(inputs[:, :1], -1, 1), atol=1e-5)


EVALUATE_SCRIPT = """
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class MyLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-ddqnbcq-env"


if __name__ == "__main__":
    MyLauncher.evaluate_main()
"""
TESTING = re.compile(r"^Testing> .*Episode=(\d+), Total reward=([-\d.]+), Steps=(\d+),", re.M)


@pytest.mark.slow
def test_the_batch_rl_examples_evaluate_coach_plays_the_trained_preset(tmp_path: Path) -> None:
    """The notebook's two jobs, its files in source_dir: train-coach.py trains the preset file on the CSV kept in
    source_dir (the notebook's src/cartpole_dataset.csv); SageMaker's output/data/checkpoint goes to the example's own
    evaluate-coach.py in the 'checkpoint' channel with the notebook's evaluate_steps 1000."""
    rollouts = tmp_path / "cartpole_dataset.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=2, output=rollouts, seed=1, progress=False)
    files = {name: (BATCH / name).read_text() for name in (*BATCH_FILES, "evaluate-coach.py")}
    files["cartpole_dataset.csv"] = rollouts.read_text()
    run, trained = run_script_mode(
        tmp_path / "train",
        "train-coach.py",
        files,
        {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq", "save_model": 1, "improve_steps": 2},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert re.search(r"rlrt: offline data: 8 episodes, \d+ steps from 1 file\(s\) in .*code", output), output[-3000:]
    assert "is not in source_dir" not in output  # the preset's CsvDataset path, found in source_dir
    checkpoint = trained.base / "output" / "data" / "checkpoint"
    assert (checkpoint / "checkpoint" / "model.d3").is_file(), output[-3000:]

    run, evaluation = run_script_mode(
        tmp_path / "evaluate",
        "evaluate-coach.py",
        files,
        {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq-env", "evaluate_steps": 1000},
        prepare=lambda t: shutil.copytree(checkpoint, t.channel("checkpoint"), dirs_exist_ok=True),
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "rlrt's evaluator (`rlrt evaluate-offline`) plays the model" in output  # the example's script swapped
    assert re.search(r"rlrt: evaluating DiscreteBCQ model from \S+/checkpoint on CartPole-v0 for 1000 steps", output)
    lengths = [int(s) for _, _, s in TESTING.findall(output)]
    assert lengths and sum(lengths) >= 1000 > sum(lengths[:-1]), output[-3000:]
    assert output.count("Training iteration=2") == len(lengths)  # the checkpoint's epochs, as Coach's lines said
    summary = json.loads((evaluation.intermediate / "evaluation.json").read_text())
    assert summary["env"] == "CartPole-v0"

    # A script of its own calling the launcher's evaluate_main() (not the example's, so not swapped) does the same.
    own = {**files, "evaluate-coach.py": EVALUATE_SCRIPT}
    run, evaluation = run_script_mode(
        tmp_path / "own",
        "evaluate-coach.py",
        own,
        {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq-env", "evaluate_steps": 30},
        prepare=lambda t: shutil.copytree(checkpoint, t.channel("checkpoint"), dirs_exist_ok=True),
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "rlrt's evaluator (`rlrt evaluate-offline`) plays the model" not in output
    assert re.search(r"rlrt: evaluating DiscreteBCQ model from \S+/checkpoint on CartPole-v0 for 30 steps", output)


@pytest.mark.slow
def test_rlrt_train_takes_a_coach_preset_file(tmp_path: Path) -> None:
    """`rlrt train --preset src/preset-x.py`: the Coach file is trained as the example's train-coach.py would train it
    (its folder is source_dir: the -env variant beside it gives the env), --set in Coach's grammar."""
    src = tmp_path / "src"
    src.mkdir()
    for name in BATCH_FILES:
        shutil.copy(BATCH / name, src / name)
    job = tmp_path / "job"
    collect(
        "CartPole-v0",
        num_envs=4,
        num_episodes=1,
        output=job / "input" / "data" / "train" / "rollouts.csv",
        seed=0,
        progress=False,
    )
    run = run_rlrt(
        [
            "train",
            "--base-dir",
            str(job),
            "--preset",
            "src/preset-cartpole-ddqnbcq.py",
            "--set",
            "rl.improve_steps:TrainingSteps=1",
        ],
        cwd=tmp_path,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert (
        "rlrt: preset-cartpole-ddqnbcq.py is a Coach preset file: training it as SageMaker RL's Coach launcher "
        "would" in output
    )
    assert (
        "rlrt: training the Coach preset file preset-cartpole-ddqnbcq.py from source_dir (DiscreteBCQ on "
        "CartPole-v0)" in output
    )
    config = json.loads((job / "model" / "config.json").read_text())
    assert config["stop"] == {"epochs": 1} and config["config"]["hidden_units"] == [256, 512]
    assert (job / "model" / "policy.onnx").is_file()
