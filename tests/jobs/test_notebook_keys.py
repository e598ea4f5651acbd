"""The seed notebooks' hyperparameters through the seed-named entry points, as real jobs: rollout videos by default
(the Roboschool notebook's "Fetch videos of training rollouts" cell waits for ``.mp4`` in ``output/intermediate``),
RLlib 1.x's ``horizon`` capping episodes, ``monitor``, ``env`` inside ``config``, numbers given as strings, a wrong
value under an RLlib 1.x name named as typed before Ray starts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, make_job_tree, rlrt_env, run_rlrt
from unity_player.build import make_player
from tests.unit.test_unity_training import free_base_port

# The Roboschool notebook's commented overrides ("Attention scientists!"), given as many users give them: strings.
NOTEBOOK = {"rl.training.config.horizon": "5000", "rl.training.config.num_sgd_iter": "10"}
ONE_ITERATION = {"rl.training.stop.training_iteration": "1"}


def run_entry_point(script: str, base: Path, cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / script)],
        env=rlrt_env(base),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def episode_lengths(stdout: str) -> list[float]:
    return [float(v) for v in re.findall(r"^episode_len_mean: (\S+)$", stdout, re.M)]


@pytest.mark.slow
def test_roboschool_notebook_gets_rollout_videos_and_horizon_5000_keeps_reachers_150_steps(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {**NOTEBOOK, **ONE_ITERATION})
    run = run_entry_point("train-reacher.py", tree.base, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert episode_lengths(run.stdout) == [150.0]  # horizon caps; it never lengthens the env's own 150-step limit
    videos = [p for p in tree.intermediate.glob("*.mp4") if p.stat().st_size > 0]  # the notebook's fetch_only filter
    assert [p.name for p in videos] == ["rollout-final-iteration-000001.mp4"], run.stdout[-2000:]
    assert re.search(r"rlrt: rollout video rollout-final-iteration-000001.mp4: 151 frames, .* 150 steps", run.stdout)


@pytest.mark.slow
def test_horizon_50_cuts_episodes_and_monitor_false_records_no_video(tmp_path: Path) -> None:
    tree = make_job_tree(
        tmp_path / "ml",
        {**NOTEBOOK, "rl.training.config.horizon": "50", "rl.training.config.monitor": False, **ONE_ITERATION},
    )
    run = run_entry_point("train-reacher.py", tree.base, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert episode_lengths(run.stdout) == [50.0]
    assert not list(tree.intermediate.glob("*.mp4")) and "rollout video" not in run.stdout


@pytest.mark.slow
def test_unity_env_inside_config_trains_that_game_and_skips_videos_with_one_line(tmp_path: Path) -> None:
    # The Unity example sets the environment inside the algorithm configuration; the game cannot render frames.
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "rl.training.config.env": "unity:basic_env_linux.x86_64",
            "rl.training.config.env_config.env_name": "basic_env_linux.x86_64",
            "rl.training.config.env_config.base_port": free_base_port(),
            "rl.training.config.train_batch_size": "200",
            "rl.training.config.sgd_minibatch_size": "100",
            "rl.training.config.num_sgd_iter": "2",
            "rl.training.config.num_envs_per_worker": 1,
            "rl.training.config.monitor": True,
            **ONE_ITERATION,
        },
    )
    make_player(tree.channel("train"), "basic_env_linux")
    run = run_entry_point("train-unity.py", tree.base, tmp_path, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "training PPO on unity:basic_env_linux.x86_64" in run.stdout
    assert run.stdout.count("cannot render video frames") == 1 and not list(tree.intermediate.glob("*.mp4"))


def test_free_log_std_on_discrete_actions_is_ignored_with_one_line(tmp_path: Path) -> None:
    # The Unity example's "model": {"free_log_std": true}: RLlib 1.x ignored it on discrete actions (RLlib 2.x's env
    # runners die on it), so rlrt drops it and says so once; the job trains and exports.
    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.model": {"free_log_std": True}, **ONE_ITERATION})
    run = run_entry_point("train.py", tree.base, tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (
        run.stdout.count(
            "model.free_log_std applies to continuous (Box) actions; CartPole-v1 has Discrete(2), so it is ignored"
        )
        == 1
    )
    assert (tree.model / "policy.onnx").is_file() and not tree.failure.exists()


def test_log_std_init_on_discrete_actions_is_a_user_error(tmp_path: Path) -> None:
    # RL Zoo's log_std_init (rlrt's model_config.log_std_init) sets a Gaussian policy's spread; CartPole has none.
    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.model_config.log_std_init": "-2", **ONE_ITERATION})
    run = run_entry_point("train.py", tree.base, tmp_path, timeout=240)
    assert run.returncode == 2, run.stderr[-3000:]
    failure = tree.failure.read_text()
    assert "model_config.log_std_init" in failure and "Remove the setting" in failure, failure
    assert "Traceback" not in run.stderr


def test_a_wrong_value_under_a_1x_name_is_named_as_typed_before_ray_starts(tmp_path: Path) -> None:
    """``num_sgd_iter=4.5`` is named as the user typed it, with RLlib 2.x's name after it, from the stored
    schema (runtime/backends/rllib/config_keys.json): before RLlib is imported or Ray started."""
    base = tmp_path / "job"
    done = run_rlrt(
        ["train", "--base-dir", str(base), "--set", "rl.training.config.num_sgd_iter=4.5"], timeout=60, RLRT_TIMINGS="1"
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert (base / "output" / "failure").read_text().strip() == (
        "Invalid hyperparameter: 'rl.training.config.num_sgd_iter' (RLlib 2.x: num_epochs) must be an integer, got 4.5"
    )
    assert "Started a local Ray instance" not in done.stderr and "rlrt-timing: spec" not in done.stderr
    exited = float(re.search(r"^rlrt-timing: main returned (\S+)$", done.stderr, re.M).group(1))
    assert exited < 10, f"named {exited:.1f} s after the process started (about 1 s on an idle machine)"
