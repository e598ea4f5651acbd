"""A process in which a user's code ran ends through the interpreter's normal exit: what the user's code wrote to a
file it left open is flushed when the job's process ends (an ``os._exit`` dropped it: 20 bytes written, 0 kept),
after a launcher script's ``train_main()`` and after ``rlrt train`` run from a user's script with its own
environment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import make_job_tree, rlrt_env, session_processes
from tests.jobs.test_sagemaker_rl_jobs import TINY, run_script_mode

USER_LOG = "20 bytes, unclosed.\n"
"""What each script writes to a file it never closes (20 bytes, in the file object's buffer until the exit)."""

LAUNCHER_SCRIPT = """
import gymnasium as gym
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher

log = open({log!r}, "w")
log.write({text!r})


class Launcher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("MyCartPole-v1", lambda config: gym.make("CartPole-v1"))

    def get_experiment_config(self):
        return {{"training": {{"env": "MyCartPole-v1", "run": "PPO", "stop": {{"training_iteration": 1}},
                              "config": {{"num_workers": 0}}}}}}


if __name__ == "__main__":
    Launcher().train_main()
"""

RLRT_SCRIPT = '''
import gymnasium
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from runtime.cli import run

log = open({log!r}, "w")
log.write({text!r})


def make_env(**config):
    """The user's own environment (a function of the script: it and the script's globals form a cycle)."""
    return CartPoleEnv(**config)


gymnasium.register("MyCartPole-v0", entry_point=make_env, max_episode_steps=200)
run(["train", "--set", "rl.training.env=MyCartPole-v0"])
'''


def test_a_launcher_scripts_unclosed_file_keeps_its_bytes(tmp_path: Path) -> None:
    log = tmp_path / "user.log"
    script = LAUNCHER_SCRIPT.format(log=str(log), text=USER_LOG)
    run, tree = run_script_mode(tmp_path, "train.py", {"train.py": script}, TINY, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "training_iteration: 1" in run.stdout
    assert log.read_text() == USER_LOG
    assert session_processes(tree.base) == []


def test_rlrt_train_from_a_users_script_with_its_own_env_keeps_its_unclosed_files_bytes(tmp_path: Path) -> None:
    log = tmp_path / "user.log"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(RLRT_SCRIPT.format(log=str(log), text=USER_LOG)))
    tree = make_job_tree(tmp_path / "ml", {"rl.training.stop.training_iteration": 1, "record_video_every": 0})
    run = subprocess.run(
        [sys.executable, str(script)],
        env=rlrt_env(tree.base),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "training_iteration: 1" in run.stdout and "MyCartPole-v0" in run.stdout
    assert log.read_text() == USER_LOG
    assert session_processes(tree.base) == []
