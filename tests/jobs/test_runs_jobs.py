"""A laptop user's runs, told apart and compared: a local tree named after its seed, Ctrl-C printing the command that
resumes the job, `rlrt evaluate` writing beside the model it plays (and playing an intermediate checkpoint), and
`rlrt plot` drawing several trees."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO_ROOT, rlrt_env, run_rlrt
from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401

TINY = [
    "--set",
    "rl.training.config.train_batch_size_per_learner=400",
    "--set",
    "rl.training.config.num_envs_per_env_runner=2",
    "--set",
    "rl.training.config.num_epochs=1",
    "--set",
    "rl.training.config.minibatch_size=200",
    "--set",
    "record_video_every=0",
]


def rows(tree: Path) -> int:
    progress = tree / "output" / "intermediate" / "progress.csv"
    return max(0, len(progress.read_text().splitlines()) - 1) if progress.exists() else 0


def test_ctrl_c_of_a_local_job_prints_the_command_that_resumes_it(tmp_path: Path) -> None:
    args = [
        "train",
        "--seed",
        "3",
        "--set",
        "rl.training.stop.training_iteration=10000",
        "--set",
        "rl.training.stop.episode_reward_mean=100000",
        "--set",
        "rl.training.checkpoint_freq=1000",
        *TINY,
    ]
    log = tmp_path / "job.log"
    with log.open("w") as handle:  # a terminal's job: its own process group, Ctrl-C to all of it
        proc = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", *args],
            cwd=tmp_path,
            env=rlrt_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        jobs = tmp_path / "rlrt-jobs"
        while (
            time.monotonic() < deadline
            and proc.poll() is None
            and not (jobs.is_dir() and any(rows(tree) for tree in jobs.iterdir()))
        ):
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=100)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 130, output[-3000:]
    [tree] = list((tmp_path / "rlrt-jobs").iterdir())
    assert re.fullmatch(r"cartpole-ppo-s3-\d{8}-\d{6}", tree.name), tree  # the seed in the name
    done = rows(tree)
    command = shlex.join(["rlrt", *args, "--base-dir", str(tree)])
    assert f"rlrt: to resume this job from checkpoint_{done:06d}, run: {command}\n" in output, output[-3000:]

    # The command as printed (one more iteration asked for, so that the test ends) resumes in the same tree.
    words = shlex.split(command)
    resumed = run_rlrt(
        [*words[1:], "--set", f"rl.training.stop.training_iteration={done + 1}"], cwd=tmp_path, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {tree / 'checkpoints' / f'checkpoint_{done:06d}'}" in resumed.stdout
    assert re.findall(r"^training_iteration: (\d+)$", resumed.stdout, re.M) == [str(done + 1)]
    assert list((tmp_path / "rlrt-jobs").iterdir()) == [tree]


def test_evaluate_writes_beside_the_model_and_plays_what_a_checkpoint_holds(
    cartpole_model: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "cartpole-ppo-20260101-120000"
    shutil.copytree(cartpole_model, tree)
    settings = ["--set", "evaluate_episodes=2"]
    final = run_rlrt(["evaluate", "--model", str(tree), *settings], cwd=tmp_path, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    [first] = list((tree / "output" / "evaluation").iterdir())
    assert f"rlrt: output folder (beside the model, in its job tree): {first}" in final.stdout
    assert sorted(p.name for p in first.iterdir()) == [
        "evaluation-episode-0001.mp4",
        "evaluation-episode-0002.mp4",
        "evaluation.json",
    ]
    assert not (tmp_path / "rlrt-jobs").exists()  # no tree of its own
    played = json.loads((first / "evaluation.json").read_text())
    assert played["model"] == str(tree / "model") and played["training_iteration"] == 2

    # The checkpoint, with the model folder's own copy of it gone: only the checkpoint's files can play.
    shutil.rmtree(tree / "model" / "checkpoint")
    run = run_rlrt(
        ["evaluate", "--model", str(tree), "--checkpoint", "2", *settings, "--set", "record_video_every=0"],
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    [second] = [p for p in (tree / "output" / "evaluation").iterdir() if p != first]
    checkpoint = json.loads((second / "evaluation.json").read_text())
    assert checkpoint["model"] == str(tree / "checkpoints" / "checkpoint_000002")
    assert checkpoint["training_iteration"] == 2 and checkpoint["rewards"] == played["rewards"]  # the same policy
    assert f"evaluating PPO checkpoint {tree / 'checkpoints' / 'checkpoint_000002'} (iteration 2)" in run.stdout
    assert not (tree / "output" / "failure").exists()  # the training's own failure file is never the evaluation's


def test_plot_draws_seeds_of_one_configuration_and_names_a_path_that_is_no_tree(
    cartpole_model: Path, tmp_path: Path
) -> None:
    trees = []
    for seed in (1, 2):
        tree = tmp_path / f"cartpole-ppo-s{seed}"
        (tree / "output").mkdir(parents=True)
        shutil.copytree(cartpole_model / "output" / "intermediate", tree / "output" / "intermediate")
        config = tree / "output" / "intermediate" / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "seed": seed}))
        trees.append(str(tree))
    run = run_rlrt(["plot", *trees, "-o", "runs.png", "--csv", "runs.csv"], cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rlrt: 2 run(s) in 1 configuration(s) drawn to" in run.stdout
    assert (tmp_path / "runs.png").read_bytes()[:4] == b"\x89PNG"
    table = list(csv.DictReader((tmp_path / "runs.csv").open()))
    assert {row["runs"] for row in table} == {"2"} and len(table) == 2, table
    wrong = run_rlrt(["plot", str(tmp_path / "runs.csv")], cwd=tmp_path, timeout=120)
    assert wrong.returncode == 2 and f"{tmp_path / 'runs.csv'} is not a job tree" in wrong.stderr, wrong.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "plot", "--help"],
        cwd=REPO_ROOT,
        env=rlrt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "min - max" in shown and "--csv" in shown and "--x {steps,time}" in shown
