"""SageMaker RL launcher scripts (``sagemaker_rl.ray_launcher.SageMakerRayLauncher`` subclasses, written in the
style of the notebooks' ``train-*.py``) packaged as ``sourcedir.tar.gz`` and run through the image's ``train`` path
exactly as script mode does (``sagemaker_program`` + ``sagemaker_submit_directory``), with tiny ``rl.training.*``
overrides; and the clear error each bad input ends in."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import REPO_ROOT, JobTree, make_job_tree, rlrt_env
from tests.quiet_logs import gym_notice, unexpected_lines

ROBOSCHOOL_SCRIPT = """
import gym
import roboschool  # noqa: F401
from ray.tune import run_experiments  # noqa: F401
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


def build_robot(env_config):
    import roboschool  # noqa: F401  (each env runner imports it again)
    assert hasattr(env_config, "worker_index") and hasattr(env_config, "vector_index")
    return gym.make("{gym_id}")


class RobotLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("{gym_id}", build_robot)

    def get_experiment_config(self):
        return {{
            "training": {{
                "env": "{gym_id}",
                "run": "PPO",
                "stop": {{"episode_reward_mean": 5000}},
                "config": {{
                    "gamma": 0.99,
                    "lr": 0.0003,
                    "num_sgd_iter": 10,
                    "sgd_minibatch_size": 256,
                    "train_batch_size": 4096,
                    "num_workers": self.num_cpus - 1,
                    "num_gpus": self.num_gpus,
                }},
            }}
        }}


if __name__ == "__main__":
    RobotLauncher().train_main()
"""

TINY = {
    "rl.training.stop.training_iteration": 1,
    "rl.training.config.train_batch_size": 200,
    "rl.training.config.sgd_minibatch_size": 100,
    "rl.training.config.num_sgd_iter": 1,
}


def source_archive(folder: Path, files: dict[str, str]) -> Path:
    """``sourcedir.tar.gz`` as the SDK packs ``source_dir``: the files at the archive's root."""
    archive = folder / "sourcedir.tar.gz"
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in files.items():
            path = folder / "src" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
            tar.add(path, arcname=name)
    return archive


def run_script_mode(
    tmp_path: Path,
    program: str,
    files: dict[str, str],
    hyperparameters: dict[str, object],
    timeout: float = 400,
    prepare: Callable[[JobTree], None] | None = None,
) -> tuple[subprocess.CompletedProcess[str], JobTree]:
    """The image's ``train`` on a job whose source dir is the local archive of ``files`` (``prepare`` fills the
    job's channels)."""
    archive = source_archive(tmp_path / "upload", files)
    host = socket.gethostname()  # sagemaker-training resolves the host names
    tree = make_job_tree(
        tmp_path / "ml",
        {"sagemaker_program": program, "sagemaker_submit_directory": str(archive), **hyperparameters},
        hosts=[host],
        current_host=host,
    )
    if prepare is not None:
        prepare(tree)
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    return run, tree


@pytest.mark.slow
@pytest.mark.parametrize("gym_id", ["RoboschoolReacher-v1", "RoboschoolHopper-v1"])
def test_roboschool_launcher_script_trains_unchanged(tmp_path: Path, gym_id: str) -> None:
    script = ROBOSCHOOL_SCRIPT.format(gym_id=gym_id)
    run, tree = run_script_mode(tmp_path, "train-robot.py", {"train-robot.py": script}, TINY)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "rlrt: running the entry point: " in output
    # Only rlrt's lines, and gym's notice once: the script imports gym itself (its env runners import it quietly).
    assert unexpected_lines(output, expected=gym_notice()) == [] and output.count(gym_notice()[0]) == 1
    # The SDK's Ray metric lines (RLEstimator.default_metric_definitions(RLToolkit.RAY)).
    assert "training_iteration: 1" in output and "episode_reward_mean: " in output
    assert (tree.model / "policy.onnx").is_file() and (tree.model / "checkpoint").is_dir()
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["env"] == f"sagemaker_rl/{gym_id}"
    resolved = json.loads((tree.model / "config.json").read_text())
    # The experiment's RLlib 1.x keys went through the hyperparameter table; the job's rl.* overrode them.
    assert resolved["config"]["num_epochs"] == 1 and resolved["config"]["minibatch_size"] == 100
    assert resolved["config"]["train_batch_size_per_learner"] == 200 and resolved["config"]["num_env_runners"] == 1
    assert resolved["config"]["lr"] == 0.0003 and resolved["stop"] == {
        "episode_reward_mean": 5000,
        "training_iteration": 1,
    }
    assert not tree.failure.exists()


OLD_STYLE_SCRIPT = '''
import gym
import numpy as np
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


class Corridor(gym.Env):
    """gym 0.21 style: reset() -> obs, step() -> (obs, reward, done, info)."""

    def __init__(self, length, worker_index, vector_index):
        self.length, self.position = length, 0
        self.tag = np.float32(worker_index * 10 + vector_index)
        self.observation_space = gym.spaces.Box(-100.0, 100.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self):
        self.position = 0
        return np.array([self.position, self.tag], dtype=np.float32)

    def step(self, action):
        self.position += 1 if action == 1 else -1
        done = abs(self.position) >= self.length
        return np.array([self.position, self.tag], dtype=np.float32), float(action), done, {{}}


def corridor(env_config):
    {body}


class CorridorLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("corridor", corridor)
{experiment}

if __name__ == "__main__":
    CorridorLauncher().train_main()
'''

EXPERIMENT = """
    def get_experiment_config(self):
        return {{"training": {{"run": "{run}", "stop": {{"training_iteration": 1}},
                 "config": {{"env": "corridor", "env_config": {{"length": 5}}, "num_workers": 1,
                             "train_batch_size": 128, "sgd_minibatch_size": 64, "num_sgd_iter": 1}}}}}}
"""
GOOD_BODY = 'return Corridor(env_config["length"], env_config.worker_index, env_config.vector_index)'


def corridor_script(body: str = GOOD_BODY, run: str | None = "PPO") -> str:
    experiment = EXPERIMENT.format(run=run) if run else ""
    return OLD_STYLE_SCRIPT.format(body=body, experiment=experiment)


@pytest.mark.slow
def test_old_style_gym_env_with_worker_and_vector_index(tmp_path: Path) -> None:
    """A gym 0.21-API env from the script's own creator (config["env"] names it), adapted by Shimmy; the creator
    reads env_config.worker_index / vector_index as in RLlib 1.x (the observation carries them)."""
    run, tree = run_script_mode(tmp_path, "train-corridor.py", {"train-corridor.py": corridor_script()}, {})
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "training_iteration: 1" in output and (tree.model / "policy.onnx").is_file()


@pytest.mark.parametrize(
    ("body", "run_name", "expected"),
    [
        (GOOD_BODY, None, "CorridorLauncher does not implement get_experiment_config()"),
        (GOOD_BODY, "NoSuchAlgo", "Unknown algorithm 'NoSuchAlgo'"),
        (
            'raise RuntimeError("the track file is missing")',
            "PPO",
            "The env creator corridor() registered as 'corridor' raised RuntimeError: the track file is missing",
        ),
        (
            'return {"not": "an env"}',
            "PPO",
            "The env creator corridor() registered as 'corridor' returned builtins.dict",
        ),
    ],
)
def test_bad_launcher_scripts_fail_clearly(tmp_path: Path, body: str, run_name: str | None, expected: str) -> None:
    run, tree = run_script_mode(
        tmp_path, "train-corridor.py", {"train-corridor.py": corridor_script(body, run_name)}, {}, timeout=200
    )
    assert run.returncode != 0, (run.stdout + run.stderr)[-3000:]
    assert expected in tree.failure.read_text(), (run.stdout + run.stderr)[-3000:]
    assert "rlrt: error: " in run.stderr


def test_a_script_using_what_ray_2_removed_fails_at_once_naming_file_line_and_replacement(tmp_path: Path) -> None:
    """A Ray 1.x script (``ray.rllib.agents``, a custom TF model) fails before sagemaker-training runs it: exit 2 in
    seconds, ``output/failure`` naming each use and what replaces it (not a traceback minutes later)."""
    script = corridor_script().replace(
        "from sagemaker_rl.ray_launcher import SageMakerRayLauncher",
        "from ray.rllib.agents.ppo import PPOTrainer\nimport model\n"
        "from sagemaker_rl.ray_launcher import SageMakerRayLauncher",
    )
    files = {"train-corridor.py": script, "model.py": "from ray.rllib.models.tf.tf_modelv2 import TFModelV2\n"}
    started = time.monotonic()
    run, tree = run_script_mode(tmp_path, "train-corridor.py", files, {}, timeout=60)
    assert run.returncode == 2 and time.monotonic() - started < 30, (run.stdout + run.stderr)[-3000:]
    failure = tree.failure.read_text()
    assert "train-corridor.py:5: `from ray.rllib.agents.ppo import PPOTrainer`" in failure, failure
    assert "model.py:1:" in failure and "torch RLModule" in failure and "ray.rllib.algorithms" in failure
    assert "running the entry point" not in run.stdout + run.stderr


STOCK_EVALUATE_RAY = """
import argparse

import ray
from ray.rllib.agents.registry import get_agent_class  # RLlib 1.x, as the examples' own evaluate-ray.py has it

parser = argparse.ArgumentParser()
parser.add_argument("--algorithm")
parser.add_argument("--env")
parser.add_argument("--evaluate_episodes")
args = parser.parse_args()
agent = get_agent_class(args.algorithm)(env=args.env, config={"num_workers": 1})
"""


def test_the_examples_own_ray_1x_evaluate_script_is_played_by_rlrts_evaluator(tmp_path: Path) -> None:
    """The notebooks' evaluation cell runs ``evaluate-ray.py`` from ``source_dir="src"``, where the examples keep
    SageMaker RL's own Ray 1.x script (``ray.rllib.agents``): rlrt recognises it, says so in one line, and its
    evaluator plays the model channel with the cell's hyperparameters, printing the lines the notebook reads."""
    import shutil

    from tests.conftest import run_rlrt

    trained = make_job_tree(tmp_path / "trained", {"rl.training.stop.training_iteration": 1})
    assert run_rlrt(["train"], base=trained.base, timeout=240).returncode == 0
    files = {"evaluate-ray.py": STOCK_EVALUATE_RAY, "train-corridor.py": corridor_script()}

    def with_model(tree: JobTree) -> None:
        shutil.copytree(trained.model, tree.channel("model"), dirs_exist_ok=True)

    run, tree = run_script_mode(
        tmp_path,
        "evaluate-ray.py",
        files,
        {"evaluate_episodes": 2, "algorithm": "PPO", "env": "CartPole-v1"},
        timeout=200,
        prepare=with_model,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert output.count("evaluate-ray.py in the source dir is a SageMaker RL example's own evaluation script") == 1
    assert output.count("Episode reward: ") == 2 and "episode_reward_mean: " in output
    assert (tree.intermediate / "evaluation.json").is_file()


def test_an_uploaded_sagemaker_rl_copy_is_refused(tmp_path: Path) -> None:
    """The estimator kept dependencies=["common/sagemaker_rl"]: SageMaker RL's Ray 1.x copy sits in the source dir."""
    old_copy = {
        "sagemaker_rl/__init__.py": "",
        "sagemaker_rl/ray_launcher.py": "from ray.rllib.agents.registry import get_agent_class\n",
        "train-corridor.py": corridor_script(),
    }
    run, tree = run_script_mode(tmp_path, "train-corridor.py", old_copy, {}, timeout=60)
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    failure = tree.failure.read_text()
    assert "holds its own copy of the sagemaker_rl package (sagemaker_rl/__init__.py" in failure
    assert 'Drop dependencies=["common/sagemaker_rl"]' in failure
    assert "running the entry point" not in run.stdout + run.stderr


UNITY_SCRIPT = """
import os

from gym_unity.envs import UnityToGymWrapper
from mlagents_envs.environment import UnityEnvironment
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


def open_game(env_config):
    game = os.path.join(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"), env_config["env_name"])
    unity = UnityEnvironment(file_name=game, worker_id=env_config.worker_index, base_port=env_config["base_port"],
                             no_graphics=True)
    return UnityToGymWrapper(unity)


class GameLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("unity_env", open_game)

    def get_experiment_config(self):
        return {
            "training": {
                "env": "unity_env",
                "run": "PPO",
                "stop": {"timesteps_total": 100000},
                "config": {
                    "gamma": 0.99,
                    "num_workers": self.num_cpus - 1,
                    "num_gpus": self.num_gpus,
                    "env_config": {"env_name": "basic_env_linux.x86_64", "base_port": 5005},
                },
            }
        }


if __name__ == "__main__":
    GameLauncher().train_main()
"""


@pytest.mark.slow
def test_unity_launcher_script_with_the_game_in_the_train_channel(tmp_path: Path) -> None:
    """The Unity notebook's flow: the script opens the player from the train channel with mlagents_envs and wraps
    it in gym_unity's UnityToGymWrapper (rlrt's compatibility module); the stand-in player plays Basic."""
    from tests.unit.test_unity_training import free_base_port
    from tests.unity_player.build import make_player

    archive = source_archive(tmp_path / "upload", {"train-unity.py": UNITY_SCRIPT})
    host = socket.gethostname()
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "sagemaker_program": "train-unity.py",
            "sagemaker_submit_directory": str(archive),
            **TINY,
            "rl.training.config.env_config.base_port": free_base_port(),
        },
        hosts=[host],
        current_host=host,
    )
    make_player(tree.channel("train"), "basic_env_linux")
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    run = subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        cwd=tmp_path,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "training_iteration: 1" in output and "episode_reward_mean: " in output
    assert (tree.model / "policy.onnx").is_file()
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["env"] == "sagemaker_rl/unity_env" and metadata["observation_space"]["shape"] == [20]


@pytest.mark.slow
def test_a_launcher_job_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    """The launcher's job is rlrt's job: a second attempt in the same tree (a spot restart with checkpoint_s3_uri)
    resumes from the first attempt's checkpoint."""
    files = {"train-corridor.py": corridor_script()}
    first, tree = run_script_mode(tmp_path, "train-corridor.py", files, {})
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    second, tree = run_script_mode(tmp_path, "train-corridor.py", files, {"rl.training.stop.training_iteration": 2})
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert "rlrt: resumed from" in output and "training_iteration: 2" in output
    assert "training_iteration: 1\n" not in output.split("rlrt: resumed from", 1)[1]


def test_a_script_that_raises_fails_the_job(tmp_path: Path) -> None:
    """Any script-mode script that dies with a traceback fails the job (exit 1, output/failure written by
    sagemaker-training), also in a tree without output/ (sagemaker-training's own failure write needs it)."""
    run, tree = run_script_mode(
        tmp_path, "train-broken.py", {"train-broken.py": "raise RuntimeError('boom')\n"}, {}, timeout=60
    )
    assert run.returncode == 1, (run.stdout + run.stderr)[-3000:]
    assert "ExecuteUserScriptError" in tree.failure.read_text() and "RuntimeError: boom" in run.stderr


def test_a_script_failing_at_import_names_its_error_in_the_failure_file(tmp_path: Path) -> None:
    """The script's last error (its traceback's final line, and where it was raised) reaches output/failure, not
    only sagemaker-training's exit code; its traceback still goes to the log as it came."""
    script = (
        "import json\n\n\ndef check(rate):\n    raise ValueError(f'learning rate {rate} is negative')\n\n\ncheck(-1)\n"
    )
    run, tree = run_script_mode(tmp_path, "train-bad.py", {"train-bad.py": script}, {}, timeout=60)
    assert run.returncode == 1, (run.stdout + run.stderr)[-3000:]
    failure = tree.failure.read_text()
    assert failure.startswith(
        "The entry point train-bad.py failed (ExecuteUserScriptError: exit code 1): "
        "ValueError: learning rate -1 is negative (train-bad.py, line 5)."
    ), failure
    assert "The full traceback is in the job's log (stderr)." in failure
    assert "Traceback (most recent call last)" in run.stderr and "line 8, in <module>" in run.stderr


@pytest.mark.slow
def test_sigterm_reaches_the_launcher_script_which_checkpoints(tmp_path: Path) -> None:
    """A stopped script-mode job (SIGTERM to the image's entry point): the container passes it on to the script
    (sagemaker-training does not), rlrt's driver saves a checkpoint, and the job ends with 143."""
    import signal
    import time

    from tests.jobs.test_train import progress_rows

    archive = source_archive(tmp_path / "upload", {"train-corridor.py": corridor_script()})
    host = socket.gethostname()
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "sagemaker_program": "train-corridor.py",
            "sagemaker_submit_directory": str(archive),
            "rl.training.stop.training_iteration": 10000,
            "rl.training.checkpoint_freq": 1000,
        },
        hosts=[host],
        current_host=host,
    )
    env = rlrt_env(tree.base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    log = tmp_path / "job.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 240
        while len(progress_rows(tree.base)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert len(progress_rows(tree.base)) >= 2, log.read_text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=100)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 143, log.read_text()[-3000:]
    assert "rlrt: stopped by SIGTERM during training. The checkpoint" in log.read_text()
    failure = tree.failure.read_text()  # rlrt's reason, not overwritten by the toolkit's ExecuteUserScriptError
    assert failure.startswith("Stopped by SIGTERM during training") and "ExecuteUserScriptError" not in failure, failure
    assert [p.name for p in tree.checkpoints.iterdir()] == [f"checkpoint_{len(progress_rows(tree.base)):06d}"]


BAG_SCRIPT = '''
import json
import os

import gym
import numpy as np
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher

OWN = json.loads(os.environ.get("SM_HPS", "{}"))  # the notebook's hyperparameters for this script


class Bag(gym.Env):
    """gym 0.21 style, no seed(): put items into a bag of a given capacity."""

    def __init__(self, capacity, sizes):
        self.capacity, self.sizes = capacity, sizes
        self.observation_space = gym.spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(sizes) + 1)

    def reset(self):
        self.load = 0
        return np.array([self.load], dtype=np.float32)

    def step(self, action):
        done = action == len(self.sizes)
        if not done:
            self.load += self.sizes[action]
            done = self.load > self.capacity
        reward = -1.0 if self.load > self.capacity else float(done) * self.load
        return np.array([self.load], dtype=np.float32), reward, done, {}


class BagLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("bag", lambda config: Bag(config["bag_capacity"], config["item_sizes"]))

    def get_experiment_config(self):
        return {"training": {"env": "bag", "run": "PPO", "stop": {"episodes_total": 3},
                             "config": {"framework": "tf", "num_workers": 1, "train_batch_size": 128,
                                        "sgd_minibatch_size": 64, "num_sgd_iter": 1,
                                        "env_config": {"bag_capacity": OWN["bag_capacity"],
                                                       "item_sizes": OWN["item_sizes"]}}}}


if __name__ == "__main__":
    BagLauncher().train_main()
'''


def test_the_scripts_own_hyperparameters_reach_it_and_rllib_1x_settings_are_bridged(tmp_path: Path) -> None:
    """A notebook's hyperparameters for its own script (``bag_capacity``, ``item_sizes``) are the script's: rlrt
    reads only ``rl.*`` and its own names and says which it left alone. The experiment's RLlib 1.x settings that
    SageMaker RL's images accepted are bridged with one line each: ``framework: tf`` trains torch, Tune 1.x's
    ``episodes_total`` stops the job, an env without ``seed()`` runs unseeded."""
    run, tree = run_script_mode(
        tmp_path, "train-bag.py", {"train-bag.py": BAG_SCRIPT}, {"bag_capacity": 9, "item_sizes": [2, 3], "seed": 4}
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "Unknown hyperparameter" not in output
    assert output.count("hyperparameters for the script itself, not read by rlrt: bag_capacity, item_sizes") == 1
    assert output.count('rl.training.config.framework="tf": rlrt trains this job with torch') == 1
    assert "without seed() (gym 0.21 API)" in output
    assert "rlrt: done (episodes_total " in output
    resolved = json.loads((tree.model / "config.json").read_text())
    assert resolved["env_config"]["bag_capacity"] == 9 and resolved["env_config"]["item_sizes"] == [2, 3]
    assert (tree.model / "policy.onnx").is_file()
    # The model plays on the script's own environment later: `rlrt evaluate` registers it again from the script the
    # model kept (model/source), in a tree that has no script.
    assert json.loads((tree.model / "source" / "rlrt_environment.json").read_text()) == {
        "entry_point": "train-bag.py",
        "registered": "bag",
    }
    from tests.conftest import run_rlrt

    evaluation = make_job_tree(tmp_path / "evaluation", {"evaluate_episodes": 3})
    played = run_rlrt(["evaluate", "--model", str(tree.model)], base=evaluation.base, timeout=200)
    assert played.returncode == 0, (played.stdout + played.stderr)[-3000:]
    assert played.stdout.count("Episode reward: ") == 3 and "on sagemaker_rl/bag for 3 episode(s)" in played.stdout
