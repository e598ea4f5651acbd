"""No training, no success: a user env that cannot start in RLlib's env runners, or that kills every
runner once sampling starts, fails the job naming the environment and its own error; never exit 0 with an
untrained model. Run through script mode as a SageMaker RL user's launcher script is."""

from __future__ import annotations

import pytest

from tests.jobs.test_sagemaker_rl_jobs import TINY, run_script_mode

BROKEN_ENV_SCRIPT = """
import gymnasium as gym
import numpy as np
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher

FAULT = {fault!r}


class Broken(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config):
        if FAULT == "start" and getattr(config, "worker_index", 0) > 0:  # only in the env runners
            raise RuntimeError("the simulator licence server is unreachable")

    def reset(self, *, seed=None, options=None):
        if FAULT == "reset":
            raise RuntimeError("reset exploded")
        return np.zeros(3, np.float32), {{}}

    def step(self, action):
        return np.zeros(3, np.float32), 1.0, False, False, {{}}


class Launcher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("Broken-v0", lambda config: Broken(config))

    def get_experiment_config(self):
        return {{"training": {{"env": "Broken-v0", "run": "PPO", "stop": {{"training_iteration": 2}},
                              "config": {{"num_workers": 1}}}}}}


if __name__ == "__main__":
    Launcher().train_main()
"""


@pytest.mark.parametrize(
    "fault, message",
    [
        (
            "start",
            "The environment sagemaker_rl/Broken-v0 could not start in RLlib's env runners: envs.errors."
            "EnvConfigError: The env creator Launcher.register_env_creator.<locals>.<lambda>() registered as "
            "'Broken-v0' raised RuntimeError: the simulator licence server is unreachable",
        ),
        (
            "reset",
            "Nothing was sampled and the env runners died: the environment sagemaker_rl/Broken-v0 fails "
            "(RuntimeError: reset exploded, at {code}/train.py, line 20, in reset: the environment's "
            "reset(seed=0, options=None)).",
        ),
    ],
)
def test_an_env_that_kills_its_env_runners_fails_the_job_naming_its_error(tmp_path, fault: str, message: str) -> None:
    script = BROKEN_ENV_SCRIPT.format(fault=fault)
    run, tree = run_script_mode(
        tmp_path, "train.py", {"train.py": script}, {**TINY, "rl.training.config.sample_timeout_s": 5}, timeout=300
    )
    assert run.returncode != 0, run.stdout[-3000:]
    report = tree.intermediate / "env-runner-errors.log"
    if fault == "start":  # RLlib's own lines (each runner's traceback) go to a file the message names, not the console
        message += f" (RLlib's own report of its env runners' errors: {report})"
        assert "the simulator licence server is unreachable" in report.read_text()
        assert "taking actor" not in run.stdout + run.stderr  # what the runner process prints itself may race in
    assert tree.failure.read_text().strip() == message.format(code=tree.base / "code")
    assert "Framework error" not in run.stdout + run.stderr
    assert "rlrt: done" not in run.stdout and not (tree.model / "policy.onnx").exists()
    assert not (tree.model / "metadata.json").exists()
