"""Offline training end to end through ``rlrt`` (real processes, real d3rlpy): metric and OPE lines, the OPE CSV,
checkpoints and resume, export (TorchScript and ONNX equal to the model), evaluation from the model channel,
SIGTERM, and the failure path for bad hyperparameters and missing data."""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.offline.collect import collect
from tests.conftest import JobTree, make_job_tree, run_rlrt, start_rlrt
from tests.quiet_logs import unexpected_lines

TINY = {
    "preset": "preset-cartpole-ddqnbcq",  # the seed's name for our cartpole-bcq
    "save_model": 1,  # the seed passes Coach's flag
    "evaluate_episodes": 3,
    "rl.training.config.n_steps_per_epoch": 40,
    "rl.training.config.batch_size": 32,
    "rl.training.config.evaluation_episodes": 2,
    "rl.training.config.fqe_steps": 10,
    "rl.training.config.hidden_units": [32, 32],
    "rl.training.stop.epochs": 2,
    "seed": 1,
}


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "cartpole.csv"
    collect("CartPole-v0", num_envs=10, num_episodes=2, output=path, seed=0, progress=False)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, rollouts: Path) -> tuple[JobTree, str]:
    tree = make_job_tree(tmp_path_factory.mktemp("job") / "opt" / "ml", TINY)
    shutil.copy(rollouts, tree.channel("train") / "rollouts.csv")
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_no_library_banners(result)
    assert unexpected_lines(result.stdout + result.stderr) == []  # e.g. no CartPole-v0 notice, no TF notice
    return tree, result.stdout


def assert_no_library_banners(result: subprocess.CompletedProcess) -> None:
    """d3rlpy imports gym (which prints a notice about itself) and logs at INFO through structlog: not in our log."""
    text = result.stdout + result.stderr
    assert "Gym has been unmaintained" not in text and "Register Shimmy environments" not in text, text[-3000:]


def test_training_prints_metric_and_ope_lines(trained: tuple[JobTree, str]) -> None:
    _, stdout = trained
    number = r"[-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?"
    for name in ("ope_is", "ope_wis", "ope_dr", "ope_sdr", "ope_fqe", "timesteps_total"):
        assert len(re.findall(rf"^{name}: {number}$", stdout, re.M)) == 2, name
    # Two epochs' evaluations and the final one.
    assert len(re.findall(rf"^episode_reward_mean: {number}$", stdout, re.M)) == 3
    assert re.findall(r"^training_iteration: (\d+)$", stdout, re.M) == ["1", "2"]
    assert re.findall(r"^timesteps_total: (\d+)$", stdout, re.M) == ["40", "80"]
    assert re.search(r"^Training>.*Total reward=(.*?),", stdout, re.M)
    # After training the exported policy is evaluated (TINY asks for 3 episodes): Coach-style Testing> lines.
    assert len(re.findall(r"^Testing>.*Total reward=(.*?),", stdout, re.M)) == 3


def test_ope_csv_has_the_seed_columns(trained: tuple[JobTree, str]) -> None:
    tree, _ = trained
    with (tree.intermediate / "worker_0.batch_rl_graph.main_level.main_level.agent_0.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2
    for column in ("Weighted Importance Sampling", "Sequential Doubly Robust", "Importance Sampling", "Doubly Robust"):
        assert all(np.isfinite(float(row[column])) for row in rows), column
    assert [row["Training Iter"] for row in rows] == ["1", "2"]
    # progress.csv holds the same estimates per epoch, and learning_curve.png draws them: one labelled line
    # per estimator over the epochs, under the evaluation return with the preset's pass bar.
    import matplotlib.pyplot as plt

    from runtime.train.curve import curve_series, learning_curve_figure, read_progress

    progress = read_progress(tree.intermediate / "progress.csv")
    assert [r["training_iteration"] for r in progress] == [1.0, 2.0]
    curve = curve_series(progress, ("episode_reward_mean", 195.0))
    assert curve is not None and curve.xlabel == "epoch"
    figure = learning_curve_figure(curve, "t")
    drawn = {
        line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
        for ax in figure.axes
        for line in ax.get_lines()
    }
    plt.close(figure)
    for key, column in (
        ("ope_wis", "Weighted Importance Sampling"),
        ("ope_sdr", "Sequential Doubly Robust"),
        ("ope_is", "Importance Sampling"),
        ("ope_dr", "Doubly Robust"),
        ("ope_fqe", "Fitted Q Evaluation"),
    ):
        x, y = drawn[f"{column} ({key})"]
        assert x == [1.0, 2.0] and y == pytest.approx([float(row[column]) for row in rows]), column
    assert drawn["mean evaluation return (greedy policy)"][1] == pytest.approx(
        [float(row["Evaluation Reward"]) for row in rows]
    )
    assert drawn["pass bar (195)"][1] == [195.0, 195.0]
    assert (tree.intermediate / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_model_directory_and_metadata(trained: tuple[JobTree, str]) -> None:
    tree, _ = trained
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["framework"] == "d3rlpy" and metadata["algorithm"] == "DiscreteBCQ"
    assert metadata["env"] == "CartPole-v0"
    assert metadata["action_space"] == {"type": "Discrete", "n": 2, "start": 0}
    assert metadata["serving"]["outputs"] == ["actions", "action_probabilities", "q_values"]
    for name in ("checkpoint/model.d3", "policy.pt", "policy.onnx", "config.json", "config.yaml"):
        assert (tree.model / name).is_file(), name
    config = json.loads((tree.model / "config.json").read_text())
    assert config["config"]["batch_size"] == 32 and config["algorithm"] == "DiscreteBCQ"
    assert config["threads"]["learner"] == 1  # d3rlpy's default networks are small: one torch thread
    assert len(list(tree.checkpoints.glob("checkpoint_*"))) == 2


def test_exported_policies_equal_the_model(trained: tuple[JobTree, str], rollouts: Path) -> None:
    import d3rlpy
    import onnxruntime
    import torch

    from runtime.offline.dataset import load_logged_data
    from runtime.offline.ope import softmax_policy

    tree, _ = trained
    observations = load_logged_data(rollouts).observations
    algo = d3rlpy.load_learnable(str(tree.model / "checkpoint" / "model.d3"))
    expected_actions = algo.predict(observations)
    expected_q = np.stack([algo.predict_value(observations, np.full(len(observations), a)) for a in range(2)], axis=1)
    temperature = json.loads((tree.model / "metadata.json").read_text())["serving"]["temperature"]

    scripted = torch.jit.load(str(tree.model / "policy.pt"))
    with torch.no_grad():
        actions, probs, q = (t.numpy() for t in scripted(torch.as_tensor(observations)))
    np.testing.assert_array_equal(actions, expected_actions)
    np.testing.assert_allclose(q, expected_q, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    # Probabilities: softmax(Q / T) over the actions BCQ's filter allows; the greedy action is the most probable.
    allowed = probs > 0
    np.testing.assert_allclose(probs, softmax_policy(expected_q, temperature, allowed), rtol=1e-4, atol=1e-6)
    assert np.all(probs[np.arange(len(probs)), actions] == probs.max(axis=1))

    session = onnxruntime.InferenceSession(str(tree.model / "policy.onnx"))
    onnx_actions, onnx_probs, onnx_q = session.run(None, {"observations": observations})
    np.testing.assert_array_equal(onnx_actions, expected_actions)
    np.testing.assert_allclose(onnx_q, expected_q, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(onnx_probs, probs, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(tmp_path: Path, trained: tuple[JobTree, str]) -> None:
    tree, _ = trained
    copy = tmp_path / "opt" / "ml"
    shutil.copytree(tree.base, copy)
    hyperparameters = {**TINY, "rl.training.stop.epochs": 3}
    JobTree(copy).write_hyperparameters(hyperparameters)
    result = run_rlrt(["train"], base=copy)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stdout and "(epoch 2, 80 gradient steps)" in result.stdout
    assert re.findall(r"^training_iteration: (\d+)$", result.stdout, re.M) == ["3"]
    assert re.findall(r"^timesteps_total: (\d+)$", result.stdout, re.M) == ["120"]


@pytest.mark.slow
def test_evaluate_from_the_model_channel(tmp_path: Path, trained: tuple[JobTree, str]) -> None:
    tree, _ = trained
    evaluation = make_job_tree(
        tmp_path / "eval" / "opt" / "ml", {"RLCOACH_PRESET": "preset-cartpole-ddqnbcq-env", "evaluate_steps": 60}
    )
    # The seeds pass the model in the legacy 'checkpoint' channel.
    shutil.copytree(tree.model, evaluation.channel("checkpoint"), dirs_exist_ok=True)
    result = run_rlrt(["evaluate-offline"], base=evaluation.base)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_no_library_banners(result)
    rewards = [float(x) for x in re.findall(r"^Testing>.*Total reward=(.*?),", result.stdout, re.M)]
    lengths_total = sum(rewards)  # CartPole pays 1 per step
    assert rewards and lengths_total >= 60
    mean = float(re.search(r"^episode_reward_mean: (\S+)$", result.stdout, re.M).group(1))
    assert mean == pytest.approx(np.mean(rewards), abs=0.01)
    saved = json.loads((evaluation.intermediate / "evaluation.json").read_text())
    assert saved["returns"] == pytest.approx(rewards, abs=0.01)


def test_evaluate_without_a_model_fails_clearly(tmp_path: Path) -> None:
    evaluation = make_job_tree(tmp_path / "opt" / "ml", {"evaluate_episodes": 1, "env": "CartPole-v0"})
    evaluation.channel("model")
    result = run_rlrt(["evaluate-offline"], base=evaluation.base)
    assert result.returncode == 2
    assert "No d3rlpy model (model.d3) under" in evaluation.failure.read_text()


@pytest.mark.slow
def test_bad_hyperparameters_and_missing_data_fail_clearly(tmp_path: Path, rollouts: Path) -> None:
    tree = make_job_tree(
        tmp_path / "a" / "opt" / "ml",
        {
            "preset": "cartpole-bcq",
            "rl.training.config.learning_rat": 0.1,
            "rl.training.config.observation_scaler": 3,
            "rl.training.stop.epoch": 2,
        },
    )
    shutil.copy(rollouts, tree.channel("train") / "rollouts.csv")
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 2
    failure = tree.failure.read_text()
    assert "3 invalid hyperparameters" in failure
    assert "'rl.training.config.learning_rat'. Did you mean 'learning_rate'?" in failure
    assert "'observation_scaler' must be a type name" in failure
    assert "'rl.training.stop.epoch'. Did you mean 'epochs'?" in failure
    assert "Traceback" not in result.stderr

    no_data = make_job_tree(tmp_path / "b" / "opt" / "ml", {"preset": "cartpole-bcq"})
    result = run_rlrt(["train"], base=no_data.base)
    assert result.returncode == 2
    assert "needs the 'train' input channel" in no_data.failure.read_text()
    train = no_data.base / "input" / "data" / "train"
    assert f"rlrt collect --env ENV --output {train}/rollouts.csv" in no_data.failure.read_text()

    bad = make_job_tree(tmp_path / "c" / "opt" / "ml", {"preset": "cartpole-bcq"})
    (bad.channel("train") / "rollouts.csv").write_text(rollouts.read_text().replace("[0.5, 0.5]", "[0.5, 0.7]", 1))
    result = run_rlrt(["train"], base=bad.base)
    assert result.returncode == 2
    assert "rollouts.csv, row 1 (line 2), column 'all_action_probabilities'" in bad.failure.read_text()


def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path: Path, rollouts: Path) -> None:
    tree = make_job_tree(
        tmp_path / "opt" / "ml",
        {
            **TINY,
            "rl.training.stop.epochs": 100000,
            "rl.training.config.evaluation_episodes": 0,
            "rl.training.config.fqe_steps": 0,
            "rl.training.checkpoint_freq": 1000,
        },
    )
    shutil.copy(rollouts, tree.channel("train") / "rollouts.csv")
    log = tmp_path / "log.txt"
    process = start_rlrt(["train"], base=tree.base, log=log)
    try:
        deadline = time.monotonic() + 120
        while "training_iteration: 2" not in (log.read_text() if log.exists() else ""):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 143
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "stopped by SIGTERM" in log.read_text()
    assert list(tree.checkpoints.glob("checkpoint_*"))
    assert "holds the policy at iteration" in tree.failure.read_text()  # written from the checkpoint kept
    assert (tree.model / "metadata.json").exists()


@pytest.mark.slow
def test_continuous_bcq_trains_and_exports(tmp_path: Path) -> None:
    import d3rlpy
    import onnxruntime
    import torch

    tree = make_job_tree(
        tmp_path / "opt" / "ml",
        {
            "preset": "pendulum-bcq",
            "rl.training.config.n_steps_per_epoch": 10,
            "rl.training.config.batch_size": 32,
            "rl.training.config.hidden_units": [16, 16],
            "rl.training.config.evaluation_episodes": 1,
            "rl.training.config.fqe_steps": 5,
            "rl.training.stop.epochs": 1,
        },
    )
    collect(
        "Pendulum-v1", num_envs=2, num_episodes=1, output=tree.channel("train") / "p.parquet", seed=0, progress=False
    )
    result = run_rlrt(["train"], base=tree.base)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^ope_fqe: \S+$", result.stdout, re.M)
    assert not re.search(r"^ope_wis:", result.stdout, re.M)  # no behaviour probabilities for continuous actions
    assert re.search(r"^episode_reward_mean: \S+$", result.stdout, re.M)
    # Rollout videos by default: a job this short films its final (greedy, continuous) policy once.
    assert [p.name for p in tree.intermediate.glob("*.mp4")] == ["rollout-final-iteration-000001.mp4"], result.stdout[
        -2000:
    ]
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["algorithm"] == "BCQ" and metadata["serving"]["outputs"] == ["actions"]

    algo = d3rlpy.load_learnable(str(tree.model / "checkpoint" / "model.d3"))
    observations = np.random.default_rng(0).uniform(-1, 1, size=(16, 3)).astype(np.float32)
    torch.manual_seed(7)
    expected = algo.predict(observations)
    scripted = torch.jit.load(str(tree.model / "policy.pt"))
    torch.manual_seed(7)
    with torch.no_grad():
        (actions,) = (t.numpy() for t in scripted(torch.as_tensor(observations)))  # a tuple, as every policy.pt
    # BCQ samples candidate actions; with the same torch seed the exported graph draws the same candidates.
    np.testing.assert_allclose(actions, expected, rtol=1e-5, atol=1e-5)
    session = onnxruntime.InferenceSession(str(tree.model / "policy.onnx"))
    (onnx_actions,) = session.run(None, {"observations": observations})
    assert onnx_actions.shape == (16, 1) and np.all(np.abs(onnx_actions) <= 2.0 + 1e-6)
