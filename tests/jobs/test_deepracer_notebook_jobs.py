"""The distributed DeepRacer seed (004) as its notebook runs it: `training_worker.py` with the notebook's exact
hyperparameters (every value a string) and its S3 layout in the train channel (``<prefix>/model/model_metadata.json``,
``<prefix>/customer_reward_function.py``); then a second job warm-started by ``pretrained_s3_bucket`` /
``pretrained_s3_prefix`` from the first one's model, whose weights it starts from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, make_job_tree, rlrt_env
from tests.unit.test_deepracer_runtime import METADATA, REWARD

NOTEBOOK = {  # the seed's estimator, verbatim (s3_bucket / s3_prefix values are the notebook's own variables)
    "s3_bucket": "sagemaker-us-east-1-000000000000",
    "s3_prefix": "deepracer-notebook-sagemaker-200729-202318",
    "aws_region": "us-east-1",
    "model_metadata_s3_key": "deepracer-notebook-sagemaker-200729-202318/model/model_metadata.json",
    "reward_function_s3_source": "deepracer-notebook-sagemaker-200729-202318/customer_reward_function.py",
    "batch_size": "64",
    "num_epochs": "10",
    "stack_size": "1",
    "lr": "0.0003",
    "exploration_type": "Categorical",
    "e_greedy_value": "1",
    "epsilon_steps": "10000",
    "beta_entropy": "0.01",
    "discount_factor": "0.999",
    "loss_type": "Huber",
    "num_episodes_between_training": "20",
    "max_sample_count": "0",
    "sampling_frequency": "1",
}
STOP = {"rl.training.stop.training_iteration": 1}  # the notebook stops by job_duration_in_seconds


def run_worker(base: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    code = base / "code"
    code.mkdir(exist_ok=True)
    shutil.copy2(REPO_ROOT / "entrypoints" / "training_worker.py", code / "training_worker.py")
    return subprocess.run(
        [sys.executable, "training_worker.py"],
        cwd=str(code),
        capture_output=True,
        text=True,
        timeout=900,
        env=rlrt_env(base, **extra),
    )


def notebook_uploads(train: Path, prefix: str) -> None:
    (train / prefix / "model").mkdir(parents=True, exist_ok=True)
    (train / prefix / "customer_reward_function.py").write_text(REWARD)
    (train / prefix / "model" / "model_metadata.json").write_text(json.dumps(METADATA))


@pytest.mark.slow
def test_notebook_layout_trains_and_warm_starts_from_pretrained_prefix(tmp_path: Path) -> None:
    prefix = NOTEBOOK["s3_prefix"]
    first = make_job_tree(tmp_path / "first", {**NOTEBOOK, **STOP})
    notebook_uploads(first.channel("train"), prefix)
    run = run_worker(first.base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "rlrt: warm start" not in run.stdout
    assert (first.model / "metadata.json").is_file()
    trained = dict(np.load(first.model / "policy_weights.npz"))

    # The next model: the notebook's commented pretrained_s3_bucket / pretrained_s3_prefix, the previous job's
    # prefix holding its model (as DeepRacer keeps it under <prefix>/model). A tiny learning rate keeps the weights.
    second = make_job_tree(
        tmp_path / "second",
        {
            **NOTEBOOK,
            **STOP,
            "s3_prefix": "next",
            "model_metadata_s3_key": "next/model/model_metadata.json",
            "reward_function_s3_source": "next/customer_reward_function.py",
            "pretrained_s3_bucket": NOTEBOOK["s3_bucket"],
            "pretrained_s3_prefix": prefix,
            "rl.training.config.lr": 1e-12,
        },
    )
    train = second.channel("train")
    notebook_uploads(train, "next")
    notebook_uploads(train, prefix)
    shutil.copytree(first.model, train / prefix / "model", dirs_exist_ok=True)
    run = run_worker(second.base)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"(pretrained_s3_prefix '{prefix}': PPO on DeepRacer-v0, trained 1 iteration(s)" in run.stdout
    metadata = json.loads((second.model / "metadata.json").read_text())
    assert metadata["training"]["training_iteration"] == 1  # fresh counters
    continued = dict(np.load(second.model / "policy_weights.npz"))
    assert trained.keys() == continued.keys()
    assert all(np.allclose(trained[k], continued[k], atol=1e-6) for k in trained)
