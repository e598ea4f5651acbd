"""`rlrt tune` (SageMaker HyperparameterTuner's grammar on Ray Tune), and the container under SageMaker's own tuner."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_job_tree, run_rlrt
from tests.quiet_logs import unexpected_lines
from tests.unit.test_tuning import RAY_REGEX, TINY_JOB, _spec


def test_a_bad_hyperparameter_name_fails_before_any_trial(tmp_path: Path) -> None:
    file = tmp_path / "tune.yaml"
    file.write_text(
        yaml.safe_dump(
            _spec(
                hyperparameter_ranges={
                    "rl.training.config.lrr": {"type": "Continuous", "min_value": 0.001, "max_value": 0.01}
                }
            )
        )
    )
    run = run_rlrt(["tune", str(file), "--output", str(tmp_path / "out")])
    assert run.returncode == 2, run.stderr
    failure = (tmp_path / "out" / "output" / "failure").read_text()
    assert "rl.training.config.lrr" in failure and "Did you mean 'rl.training.config.lr'" in failure
    assert not (tmp_path / "out" / "jobs").exists() or not any((tmp_path / "out" / "jobs").iterdir())


def test_a_missing_or_broken_tuning_file_is_a_user_error(tmp_path: Path) -> None:
    run = run_rlrt(["tune", str(tmp_path / "nope.yaml"), "--output", str(tmp_path / "out")])
    assert run.returncode == 2 and "does not exist" in (tmp_path / "out" / "output" / "failure").read_text()
    (tmp_path / "bad.yaml").write_text("max_jobs: [1, 2\n")
    run = run_rlrt(["tune", str(tmp_path / "bad.yaml"), "--output", str(tmp_path / "out")])
    assert run.returncode == 2 and "not valid YAML/JSON" in (tmp_path / "out" / "output" / "failure").read_text()


@pytest.mark.slow
def test_tune_runs_training_jobs_and_reports_the_best(tmp_path: Path) -> None:
    file = tmp_path / "tune.json"
    file.write_text(
        json.dumps(
            {
                "objective_metric_name": "episode_reward_mean",
                "objective_type": "Maximize",
                "max_jobs": 2,
                "max_parallel_jobs": 1,
                "strategy": "Bayesian",
                "early_stopping_type": "Auto",
                "static_hyperparameters": TINY_JOB,
                "hyperparameter_ranges": {
                    "rl.training.config.lr": {
                        "type": "Continuous",
                        "min_value": 1e-4,
                        "max_value": 1e-2,
                        "scaling_type": "Logarithmic",
                    },
                    "rl.training.config.num_sgd_iter": {"type": "Integer", "min_value": 1, "max_value": 3},
                    "rl.training.config.gamma": {
                        "type": "Continuous",
                        "min_value": 0.9,
                        "max_value": 0.999,
                        "scaling_type": "ReverseLogarithmic",
                    },
                    # Values that are lists (layer sizes, a learning-rate schedule): Optuna would warn about its
                    # storage.
                    "rl.training.config.model.fcnet_hiddens": {"type": "Categorical", "values": [[16], [32, 32]]},
                },
            }
        )
    )
    out = tmp_path / "out"
    run = run_rlrt(["tune", str(file), "--output", str(out)], timeout=500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    rows = list(csv.DictReader((out / "tuning_results.csv").open()))
    assert len(rows) == 2
    for row in rows:
        assert 1e-4 <= float(row["rl.training.config.lr"]) <= 1e-2
        assert row["rl.training.config.num_sgd_iter"] in {"1", "2", "3"}
        assert 0.9 <= float(row["rl.training.config.gamma"]) <= 0.999
        assert json.loads(row["rl.training.config.model.fcnet_hiddens"]) in ([16], [32, 32])
        assert row["status"] in {"completed", "early-stopped"} and math.isfinite(float(row["episode_reward_mean"]))
        # Each trial is a real training job in its own tree, with the sampled hyperparameters as SageMaker writes them.
        written = json.loads((Path(row["job_dir"]) / "input" / "config" / "hyperparameters.json").read_text())
        assert json.loads(written["rl.training.config.lr"]) == pytest.approx(float(row["rl.training.config.lr"]))
        assert json.loads(written["rl.training.stop.training_iteration"]) == 2
        assert (Path(row["job_dir"]) / "checkpoints").is_dir()
    best = json.loads((out / "best_hyperparameters.json").read_text())
    # The best of the trials that completed (an early-stopped one has no model): it has its model.
    completed = [r for r in rows if r["status"] == "completed"]
    assert completed and best["objective_value"] == max(float(r["episode_reward_mean"]) for r in completed)
    assert (Path(best["job_dir"]) / "model" / "policy.onnx").is_file()
    assert best["hyperparameters"]["rl.training.config.train_batch_size"] == 200
    assert set(best["tuned_hyperparameters"]) == {
        "rl.training.config.lr",
        "rl.training.config.num_sgd_iter",
        "rl.training.config.gamma",
        "rl.training.config.model.fcnet_hiddens",
    }
    assert best["tuned_hyperparameters"]["rl.training.config.model.fcnet_hiddens"] in ([16], [32, 32])
    assert "rlrt: best trial" in run.stdout
    header = r"^trial +rl.training.config.lr +rl.training.config.num_sgd_iter .*episode_reward_mean"
    assert re.search(header, run.stdout, re.M), run.stdout
    assert unexpected_lines(run.stdout + run.stderr) == []  # Tune's, Optuna's and Ray's own lines left out


@pytest.mark.slow
def test_a_stale_ray_address_file_does_not_make_tune_join_a_dead_cluster(tmp_path: Path) -> None:
    """``ray start`` (a multi-host job's head or worker) leaves ``<ray temp dir>/ray_current_cluster`` behind; a plain
    ``ray.init()`` would try to join the dead cluster it names. ``rlrt tune`` starts its own Ray (a node on a port
    of its own, joined by address).

    The file goes in a private Ray temp dir (``RAY_TMPDIR``, where Ray looks for it instead of /tmp/ray), so other
    Ray processes on this machine never see the stale address; the folder is removed afterwards."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="rlrt-ray-", dir="/tmp"))  # short: Ray's socket paths live under it
    try:
        address_file = ray_tmp / "ray" / "ray_current_cluster"
        address_file.parent.mkdir(parents=True)
        address_file.write_text("127.0.0.1:1\n")  # a cluster that is not there
        file = tmp_path / "tune.json"
        file.write_text(
            json.dumps(
                {
                    "max_jobs": 1,
                    "max_parallel_jobs": 1,
                    "strategy": "Random",
                    "early_stopping_type": "Off",
                    "static_hyperparameters": {**TINY_JOB, "rl.training.stop.training_iteration": 1},
                    "hyperparameter_ranges": {
                        "rl.training.config.lr": {"type": "Continuous", "min_value": 1e-4, "max_value": 1e-3}
                    },
                }
            )
        )
        out = tmp_path / "out"
        run = run_rlrt(["tune", str(file), "--output", str(out)], timeout=400, RAY_TMPDIR=str(ray_tmp))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
        assert "127.0.0.1:1" not in run.stdout + run.stderr
        rows = list(csv.DictReader((out / "tuning_results.csv").open()))
        assert len(rows) == 1 and rows[0]["status"] == "completed", rows
        assert address_file.read_text() == "127.0.0.1:1\n"  # Ray ignored it and left it alone
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.slow
def test_early_stopping_stops_a_trial_that_falls_behind(tmp_path: Path) -> None:
    """Deterministic ASHA: a grid run one job at a time, the first trial plays full CartPole episodes (return ~20 for
    a new policy), the second has its episodes cut at 5 steps (return <= 5). At the first rung the second trial is
    below every recorded result, so ASHA stops it; its job receives SIGTERM, as SageMaker's tuner stops a job."""
    file = tmp_path / "tune.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "objective_metric_name": "episode_reward_mean",
                "objective_type": "Maximize",
                "max_parallel_jobs": 1,
                "strategy": "Grid",
                "early_stopping_type": "Auto",
                "static_hyperparameters": {**TINY_JOB, "rl.training.stop.training_iteration": 3},
                "hyperparameter_ranges": {
                    "rl.training.config.env_config.max_episode_steps": {"type": "Categorical", "values": [500, 5]}
                },
            }
        )
    )
    out = tmp_path / "out"
    run = run_rlrt(["tune", str(file), "--output", str(out)], timeout=500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    rows = {
        int(r["rl.training.config.env_config.max_episode_steps"]): r
        for r in csv.DictReader((out / "tuning_results.csv").open())
    }
    assert set(rows) == {500, 5}
    assert (rows[500]["status"], rows[500]["iterations"]) == ("completed", "3"), rows
    # ASHA stops the second trial at its first result; on a loaded machine its 5-step job may already have run to its
    # end by then (it has its model: "completed", which it is); either way it is not the best.
    assert rows[5]["iterations"] == "1" and rows[5]["status"] in ("early-stopped", "completed"), rows
    assert float(rows[5]["episode_reward_mean"]) <= 5 < float(rows[500]["episode_reward_mean"])
    # The stopped job saved a checkpoint on SIGTERM and exited; nothing of it runs on.
    assert list((Path(rows[5]["job_dir"]) / "checkpoints").glob("checkpoint_*"))
    assert (
        json.loads((out / "best_hyperparameters.json").read_text())["hyperparameters"][
            "rl.training.config.env_config.max_episode_steps"
        ]
        == 500
    )


def test_under_sagemakers_tuner_the_job_obeys_time_total_s_and_prints_the_objective_every_iteration(
    tmp_path: Path,
) -> None:
    tree = make_job_tree(tmp_path / "ml")
    # What SageMaker's tuner writes: the estimator's static hyperparameters JSON-encoded by the SDK, the sampled
    # values as plain strings, and its own _tuning_objective_metric.
    (tree.base / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(
            {
                "rl.training.stop.time_total_s": "6",
                "rl.training.stop.episode_reward_mean": "1000",  # out of CartPole's reach: the clock must end the job
                "rl.training.config.train_batch_size": "200",
                "rl.training.config.sgd_minibatch_size": "100",
                "rl.training.config.num_workers": "0",
                "rl.training.config.num_envs_per_worker": "1",
                "rl.training.config.kl_coeff": "0.7340516",
                "rl.training.config.num_sgd_iter": "2",
                "_tuning_objective_metric": "episode_reward_mean",
                "sagemaker_estimator_class_name": '"RLEstimator"',
            }
        )
    )
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 0, run.stderr[-3000:]
    iterations = re.findall(r"^training_iteration: (\d+)$", run.stdout, re.M)
    objectives = re.findall(RAY_REGEX, run.stdout)
    assert len(iterations) >= 2 and len(objectives) == len(iterations)
    training = json.loads((tree.model / "metadata.json").read_text())["training"]
    assert training["stopped_by"].startswith("time_total_s") and training["time_total_s"] >= 6
    assert training["training_iteration"] == len(iterations)
    config = json.loads((tree.model / "config.json").read_text())
    assert config["config"]["kl_coeff"] == pytest.approx(0.7340516) and config["config"]["num_epochs"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])  # SIGHUP takes SIGTERM's handler (run_tuning)
def test_ctrl_c_lists_the_finished_trials_and_never_calls_an_interrupted_one_completed(
    tmp_path: Path, signame: str
) -> None:
    """SIGINT (Ctrl-C) or SIGTERM (SageMaker's stop) on ``rlrt tune`` while the second trial trains: the running
    trial is stopped (its job saves a checkpoint and writes its model/ from it), the table lists the first as
    completed and the second as interrupted, the best is the completed one, exit 130 or 143, and none of Ray's resume
    advice (`Tuner.restore`) is printed. The signal goes to the process group, as a terminal's Ctrl-C and SageMaker's
    stop send it: the trials' Ray runs in a process group of its own, so it is not killed under Ray Tune's graceful
    stop."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO_ROOT, rlrt_env

    file = tmp_path / "tune.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "objective_metric_name": "episode_reward_mean",
                "objective_type": "Maximize",
                "max_parallel_jobs": 1,
                "strategy": "Grid",
                "early_stopping_type": "Off",
                "static_hyperparameters": {
                    k: v for k, v in TINY_JOB.items() if k != "rl.training.stop.training_iteration"
                },
                "hyperparameter_ranges": {
                    "rl.training.stop.training_iteration": {"type": "Categorical", "values": [1, 500]}
                },
            }
        )
    )
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "tune", str(file), "--output", str(out)],
        cwd=str(REPO_ROOT),
        env=rlrt_env(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the second trial's job has reported an iteration
            logs = [p.read_text() for p in (out / "jobs").glob("*/job.log")] if (out / "jobs").is_dir() else []
            if len(logs) == 2 and all("training_iteration: 1" in log for log in logs):
                break
            time.sleep(0.5)
        else:
            pytest.fail(
                "the second trial never started: " + process.stdout.read()
                if process.poll() is not None
                else "the second trial never started"
            )
        os.killpg(process.pid, getattr(signal, signame))
        stopped_at = time.monotonic()
        stdout, stderr = process.communicate(timeout=240)
        assert time.monotonic() - stopped_at < 110, "not within SageMaker's 120 s between SIGTERM and SIGKILL"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    how = "Ctrl-C" if signame == "SIGINT" else signame
    assert process.returncode == 128 + getattr(signal, signame), stdout[-3000:] + stderr[-3000:]
    assert "Tuner.restore" not in stdout + stderr and "Stop signal received" not in stdout + stderr
    assert f"rlrt: interrupted ({how})" in stdout
    rows = {r["rl.training.stop.training_iteration"]: r for r in csv.DictReader((out / "tuning_results.csv").open())}
    assert (rows["1"]["status"], rows["500"]["status"]) == ("completed", "interrupted"), rows
    assert re.search(r"^\S+ +1 +\S+ +1 +completed$", stdout, re.M), stdout
    best = json.loads((out / "best_hyperparameters.json").read_text())
    assert best["tuned_hyperparameters"] == {"rl.training.stop.training_iteration": 1}
    assert (Path(best["job_dir"]) / "model" / "policy.onnx").is_file()
    assert list((Path(rows["500"]["job_dir"]) / "checkpoints").glob("checkpoint_*"))
    assert f"Interrupted ({how})" in (out / "output" / "failure").read_text()
    stopped = json.loads((Path(rows["500"]["job_dir"]) / "model" / "metadata.json").read_text())["training"]
    assert stopped["stopped_by"] == "SIGTERM"  # the tuner stops a trial's job as SageMaker's does


def test_a_job_starts_from_a_tuning_result(tmp_path: Path) -> None:
    """``rlrt train --hyperparameters best_hyperparameters.json``: the tuned values, under --set; a broken
    file is a user error naming it, in the job's failure file."""
    best = tmp_path / "best_hyperparameters.json"
    best.write_text(
        json.dumps(
            {
                "objective_metric_name": "episode_reward_mean",
                "objective_value": 20.0,
                "trial": "t1",
                "job_dir": "x",
                "tuned_hyperparameters": {"rl.training.config.lr": 0.002},
                "hyperparameters": {
                    **TINY_JOB,
                    "rl.training.config.lr": 0.002,
                    "rl.training.stop.training_iteration": 1,
                    "rl.training.config.gamma": 0.95,
                },
            }
        )
    )
    base = tmp_path / "job"
    run = run_rlrt(
        [
            "train",
            "--hyperparameters",
            str(best),
            "--base-dir",
            str(base),
            "--set",
            "rl.training.config.gamma=0.9",
            "--set",
            "record_video_every=0",
        ],
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"rlrt: hyperparameters from {best}" in run.stdout
    config = json.loads((base / "model" / "config.json").read_text())["config"]
    assert (config["lr"], config["gamma"], config["train_batch_size_per_learner"]) == (0.002, 0.9, 200)
    broken = tmp_path / "broken.json"
    broken.write_text('{"rl.training.config.lr": ')
    run = run_rlrt(["train", "--hyperparameters", str(broken), "--base-dir", str(tmp_path / "job2")], timeout=60)
    failure = (tmp_path / "job2" / "output" / "failure").read_text()
    assert run.returncode == 2 and f"{broken} is not valid JSON" in failure
