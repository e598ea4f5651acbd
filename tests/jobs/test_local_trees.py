"""`rlrt train` on a laptop: one new ./rlrt-jobs tree per launch (none left by a launch that trained nothing), the
RL Zoo-style shorthands, the early check of an environment id and the lines that say what a job was given."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from runtime.cluster.node import free_ports
from runtime.errors import UserError
from runtime.job.context import Job
from runtime.job.environment import load_environment
from runtime.job.plan import JobPlan, plan_job
from runtime.plugins import INSTALLED
from runtime.train.job import _check_env_id
from tests.conftest import make_job_tree, rlrt_env, run_rlrt

QUICK = ["--set", "rl.training.stop.training_iteration=1", "--set", "record_video_every=0"]


def rlrt(args: list[str], cwd: Path) -> subprocess.Popen:
    """``rlrt ARGS`` started in ``cwd`` (where it makes ./rlrt-jobs), its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=cwd,
        env=rlrt_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def trees(cwd: Path) -> list[Path]:
    folder = cwd / "rlrt-jobs"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_two_launches_started_together_get_a_tree_each_and_say_a_translated_name_once(tmp_path: Path) -> None:
    # Other launches hold the names of every second of the next two minutes (as two launches in one second would
    # want one name): each launch must make a tree of its own, never take over a folder that exists.
    # With the seed in the name (cartpole-ppo-s1-<time>), both seeds' names are held.
    seconds = [time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() + s)) for s in range(120)]
    taken = [tmp_path / "rlrt-jobs" / f"cartpole-ppo-s{seed}-{second}" for second in seconds for seed in (1, 2)]
    for folder in taken:
        folder.mkdir(parents=True)
    args = ["train", *QUICK, "--set", "rl.training.config.num_sgd_iter=1"]
    procs = [rlrt([*args, "--set", f"seed={seed}"], tmp_path) for seed in (1, 2)]
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], "\n".join(out[-3000:] for out in outputs)
    assert not any(any(folder.iterdir()) for folder in taken)
    made = [tree for tree in trees(tmp_path) if tree not in taken]
    assert sorted(tree.name[:16] for tree in made) == ["cartpole-ppo-s1-", "cartpole-ppo-s2-"], made
    assert all(tree.name.endswith(("-2", "-3")) for tree in made), made
    seeds = {json.loads((tree / "input/config/hyperparameters.json").read_text())["seed"] for tree in made}
    assert seeds == {"1", "2"}  # neither inherited the other's settings
    assert all((tree / "model" / "metadata.json").is_file() for tree in made)
    line = "rl.training.config.num_sgd_iter is RLlib 1.x's name: this job trains with RLlib 2.x's num_epochs"
    assert all(out.count(line) == 1 for out in outputs), outputs[0][-3000:]


@pytest.mark.parametrize(
    "args, named",
    [
        (["--set", "rl.training.config.lrr=0.1"], "Did you mean 'rl.training.config.lr'"),
        (["--env", "CartPol-v1"], "'rl.training.env': Unknown environment 'CartPol-v1': not a registered gymnasium id"),
        (["--set", "rl.training.env=CartPol-v1"], "Did you mean 'CartPole-v1'?"),
        (
            ["--env", "Hopper-v3"],
            "Hopper-v5 is the same robot on the maintained MuJoCo bindings (installed): train --env Hopper-v5.",
        ),  # registered by gymnasium, but built only by mujoco-py
    ],
)
def test_a_launch_that_fails_before_training_says_why_quickly_and_leaves_no_tree(
    tmp_path: Path, args: list[str], named: str
) -> None:
    start = time.monotonic()
    run = run_rlrt(["train", *args], cwd=tmp_path, timeout=120, RLRT_TIMINGS="1")
    elapsed = time.monotonic() - start
    assert run.returncode == 2, run.stderr[-3000:]
    assert named in run.stderr and "nothing was trained, so the new job tree" in run.stderr, run.stderr[-3000:]
    assert trees(tmp_path) == [] and not (tmp_path / "rlrt-jobs").exists()
    # Named before RLlib is imported and Ray started (~2 s on an idle core): the job's timeline stops before the
    # spec (resolved with RLlib's import) and Ray's start; the time bound only catches a hang (a loaded machine runs
    # even the quick check several times slower).
    assert "rlrt-timing: job" in run.stderr, run.stderr[-3000:]
    assert "rlrt-timing: spec" not in run.stderr and "rlrt-timing: ray" not in run.stderr, run.stderr[-3000:]
    assert elapsed < 30, elapsed
    assert "Traceback" not in run.stderr


def test_a_shorthand_and_a_set_that_disagree_are_named_together(tmp_path: Path) -> None:
    run = run_rlrt(["train", "--env", "Acrobot-v1", "--set", "rl.training.env=CartPole-v1"], cwd=tmp_path, timeout=60)
    assert run.returncode == 2
    assert '--env Acrobot-v1 and --set rl.training.env="CartPole-v1"' in run.stderr, run.stderr
    assert trees(tmp_path) == []
    shown = run_rlrt(["train", "--help"], cwd=tmp_path, timeout=60).stdout
    assert all(option in shown for option in ("--algo", "--env", "--seed", "--timesteps", "-n N", "--force"))


def test_shorthands_name_the_tree_and_stop_after_the_env_and_tensorboard_lists_the_job_once(tmp_path: Path) -> None:
    run = run_rlrt(
        [
            "train",
            "--env",
            "Acrobot-v1",
            "--algo",
            "DQN",
            "--seed",
            "3",
            "-n",
            "50000",
            *QUICK,
            "--set",
            "rl.training.config.num_env_runners=0",  # 100 steps: 25 of RL Zoo's DQN batches
            "--set",
            "rl.training.config.min_sample_timesteps_per_iteration=100",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    [tree] = trees(tmp_path)
    assert tree.name.startswith("acrobot-dqn-s3-"), tree  # the seed in the name: runs told apart
    stored = json.loads((tree / "input/config/hyperparameters.json").read_text())
    assert {k: json.loads(v) for k, v in stored.items()} == {
        "rl.training.env": "Acrobot-v1",
        "rl.training.run": "DQN",
        "seed": 3,
        "rl.training.stop.timesteps_total": 50000,
        "rl.training.stop.training_iteration": 1,
        "record_video_every": 0,
        "rl.training.config.num_env_runners": 0,
        "rl.training.config.min_sample_timesteps_per_iteration": 100,
    }
    stop = json.loads((tree / "model" / "config.json").read_text())["stop"]
    assert stop == {"episode_reward_mean": -100, "timesteps_total": 50000, "training_iteration": 1}, stop
    assert "episode_reward_mean >= -100: gymnasium's reward_threshold for Acrobot-v1" in run.stderr + run.stdout
    # docs/USAGE.md's TensorBoard command over the jobs folder: one run for the job, named after it.
    runs = tensorboard_scalars(tmp_path / "rlrt-jobs")
    assert list(runs) == [f"{tree.name}/output/tensorboard"], runs
    [(_wall_time, step, seconds)] = runs[f"{tree.name}/output/tensorboard"]["rlrt/time_total_s"]
    assert step > 0 and seconds > 0


def tensorboard_scalars(logdir: Path) -> dict[str, dict[str, list[list[float]]]]:
    """Run the environment's ``tensorboard --logdir LOGDIR`` on a free local port and read, over its HTTP API, each
    run's ``rlrt/time_total_s`` scalars: {run: {tag: [[wall time, step, value], ...]}}; the server is stopped after."""
    port = free_ports(1)[0]
    command = [
        str(Path(sys.executable).parent / "tensorboard"),
        "--logdir",
        str(logdir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/data/plugin/scalars"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[0][-3000:]
            try:
                tags = requests.get(f"{url}/tags", timeout=5).json()
            except requests.ConnectionError:
                tags = {}
            if tags and all("rlrt/time_total_s" in run_tags for run_tags in tags.values()):
                return {
                    run: {
                        "rlrt/time_total_s": requests.get(
                            f"{url}/scalars", params={"run": run, "tag": "rlrt/time_total_s"}, timeout=5
                        ).json()
                    }
                    for run in tags
                }
            time.sleep(1)
        raise AssertionError(f"TensorBoard served no rlrt scalars in 120 s: {tags}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_force_starts_a_named_tree_afresh(tmp_path: Path) -> None:
    """A rerun in a tree an earlier `rlrt train --base-dir` made stores its options there, as the first run did (a
    rerun's -n was used once and forgotten); --force removes the stored hyperparameters, as docs/USAGE.md says (they
    were kept: the tree's resourceconfig.json made it look like a SageMaker tree)."""
    base = tmp_path / "myjob"
    args = ["train", "--base-dir", str(base), *QUICK, "--set", "rl.training.config.num_env_runners=0"]
    stored = base / "input" / "config" / "hyperparameters.json"
    first = run_rlrt([*args, "--set", "rl.training.config.gamma=0.95"], timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_rlrt([*args, "-n", "100"], timeout=600)
    assert "already done" in again.stdout  # the tree resumes: nothing left to train
    assert "keeps from an earlier run" in again.stdout and "rl.training.config.gamma=0.95 (that file)" in again.stdout
    kept = json.loads(stored.read_text())
    assert (kept["rl.training.stop.timesteps_total"], kept["rl.training.config.gamma"]) == ("100", "0.95")
    forced = run_rlrt([*args, "--force"], timeout=600)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert (
        f"--force: starting {base} afresh (its checkpoints, model, outputs and stored hyperparameters removed)"
        in forced.stdout
        and "already done" not in forced.stdout
    )
    assert "training_iteration: 1" in forced.stdout
    assert not {"rl.training.config.gamma", "rl.training.stop.timesteps_total"} & set(json.loads(stored.read_text()))


def _job(tmp_path: Path, hyperparameters: dict) -> Job:
    tree = make_job_tree(tmp_path / "ml", hyperparameters)
    return Job(load_environment(tree.base), hyperparameters, hyperparameters, False)


def _planned(job: Job) -> tuple[Job, JobPlan]:
    return job, plan_job(job.hyperparameters, INSTALLED, overrides=job.overrides)


@pytest.mark.parametrize(
    "env_id", ["my_package.envs:MyEnv", "unity:Basic", "sagemaker_rl/my_env", "CartPole", "Acrobot-v1"]
)
def test_the_early_env_check_leaves_ids_something_else_could_register(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_id: str
) -> None:
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))  # load_environment points it at the tree: restored after
    _check_env_id(*_planned(_job(tmp_path, {"rl.training.env": env_id})), user_code=False)


def test_the_early_env_check_leaves_a_job_that_runs_user_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    job = _job(tmp_path, {"rl.training.env": "MyOwnEnv-v0"})
    _check_env_id(*_planned(job), user_code=True)  # the user's script may register it before training starts
    with pytest.raises(UserError, match="not a registered gymnasium id.*Did you mean 'MountainCar-v0'"):
        _check_env_id(*_planned(_job(tmp_path, {"rl.training.env": "MountainCr-v0"})), user_code=False)


def test_a_refused_second_job_writes_nothing_into_the_busy_tree(tmp_path: Path) -> None:
    """A second `rlrt train --set ...` on a local tree another job is training in is refused before it writes: the
    running job's hyperparameters.json and its (absent) failure file stay byte for byte as they were."""
    from tests.conftest import start_rlrt  # the only test here that runs a job in the background

    base = tmp_path / "ml"
    first = start_rlrt(
        [
            "train",
            "--base-dir",
            str(base),
            "--set",
            "rl.training.stop.training_iteration=10000",
            "--set",
            "rl.training.stop.episode_reward_mean=100000",
            "--set",
            "record_video_every=0",
        ],
        log=tmp_path / "first.log",
    )
    try:
        deadline = time.monotonic() + 240
        progress = base / "output" / "intermediate" / "progress.csv"
        while not progress.exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.5)
        assert progress.exists(), (tmp_path / "first.log").read_text()[-3000:]
        stored = {path.name: path.read_bytes() for path in (base / "input" / "config").iterdir()}
        output = sorted(path.name for path in (base / "output").iterdir())
        second = run_rlrt(
            [
                "train",
                "--base-dir",
                str(base),
                "--set",
                "rl.training.config.lr=0.05",
                "--set",
                "rl.training.config.gamma=0.5",
            ],
            timeout=120,
        )
        assert second.returncode == 2, second.stderr[-3000:]
        assert f"Another rlrt training job (pid {first.pid}) is running in {base}" in second.stderr
        assert {path.name: path.read_bytes() for path in (base / "input" / "config").iterdir()} == stored
        assert sorted(path.name for path in (base / "output").iterdir()) == output  # no failure file either
    finally:
        first.kill()  # SIGKILL: the lock dies with the process
        first.wait()
