"""sagemaker_rl's experiment dict -> rlrt hyperparameters (resolved by the same path as ``rl.training.config.*``),
the job's ``rl.*`` hyperparameters laid over it as SageMaker RL did, user env creators adapted to gymnasium, the
compatibility modules, and the script-mode check for an uploaded sagemaker_rl copy."""

from __future__ import annotations

import tarfile
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from runtime.errors import UserError
from runtime.job.setup import resolve_spec
from runtime.plugins import INSTALLED
from sagemaker_rl.experiment import BASE_PRESET, apply_rl_hyperparameters, experiment_hyperparameters


def experiment(**config: object) -> dict:
    return {
        "training": {
            "env": "CartPole-v1",
            "run": "PPO",
            "stop": {"episode_reward_mean": 400},
            "config": {"num_workers": 3, "sgd_minibatch_size": 64, **config},
        }
    }


def test_the_jobs_rl_hyperparameters_are_laid_over_the_experiment() -> None:
    given = experiment(model={"fcnet_hiddens": [8]})
    laid = apply_rl_hyperparameters(
        given,
        {
            "rl.training.config.num_workers": 1,
            "rl.training.stop.training_iteration": 2,
            "rl.training.config.model.free_log_std": True,
            "sagemaker_program": "x",
        },
    )
    assert laid["training"]["config"]["num_workers"] == 1 and laid["training"]["config"]["sgd_minibatch_size"] == 64
    assert laid["training"]["config"]["model"] == {"fcnet_hiddens": [8], "free_log_std": True}
    assert laid["training"]["stop"] == {"episode_reward_mean": 400, "training_iteration": 2}
    assert given["training"]["config"]["num_workers"] == 3  # the script's dict is not changed


def test_the_experiment_resolves_through_the_hyperparameter_table() -> None:
    spec = resolve_spec(
        experiment_hyperparameters(experiment(num_sgd_iter=4, train_batch_size=512, num_gpus=0, lr=0.001)),
        INSTALLED,
        default_preset=BASE_PRESET,
    )
    assert (spec.env, spec.algorithm, spec.preset) == ("CartPole-v1", "PPO", "sagemaker-rl-experiment")
    assert dict(spec.config) == {
        "num_env_runners": 3,
        "minibatch_size": 64,
        "num_epochs": 4,
        "train_batch_size_per_learner": 512,
        "num_gpus_per_learner": 0,
        "lr": 0.001,
        "gym_env_vectorize_mode": "vector_entry_point",
    }  # CartPole's own vector class
    assert dict(spec.stop) == {"episode_reward_mean": 400}


def test_config_env_names_the_environment_as_in_tune_1x() -> None:
    given = {"training": {"run": "PPO", "stop": {"training_iteration": 1}, "config": {"env": "Pendulum-v1"}}}
    assert experiment_hyperparameters(given)["rl.training.env"] == "Pendulum-v1"
    given["training"]["env"] = "CartPole-v1"
    with pytest.raises(UserError, match="name different environments"):
        experiment_hyperparameters(given)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"restore": "/opt/ml/checkpoints/x"}, "'training.restore' is not supported: rlrt resumes by itself"),
        ({"num_samples": 4}, "'training.num_samples' is not supported"),
        ({"run": None}, "'training.run' must name an RLlib algorithm"),
        ({"env": None}, "must name the environment"),
        ({"stopp": {}}, "Unknown experiment key 'training.stopp'"),
    ],
)
def test_experiment_keys_rlrt_refuses(change: dict, message: str) -> None:
    given = experiment()
    given["training"].update(change)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")):
        experiment_hyperparameters(given)


def test_an_unknown_algorithm_is_named() -> None:
    given = experiment()
    given["training"]["run"] = "PPOO"
    with pytest.raises(UserError, match="Unknown algorithm 'PPOO'. Did you mean 'PPO'"):
        resolve_spec(experiment_hyperparameters(given), INSTALLED, default_preset=BASE_PRESET)


class OldApi:
    """A gym 0.21-style environment (gym spaces) that does not even subclass gym.Env."""

    def __init__(self) -> None:
        import gym

        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def seed(self, seed=None):
        return [seed]

    def reset(self):
        return np.zeros(1, np.float32)

    def step(self, action):
        return np.ones(1, np.float32), 1.0, True, {"TimeLimit.truncated": True}


def test_user_creators_are_adapted_and_get_an_env_context(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from sagemaker_rl.user_envs import UserEnvCreator

    monkeypatch.setattr(sys, "path", list(sys.path))  # the creator installs the compatibility folders
    monkeypatch.setenv("PYTHONPATH", "")

    seen = []

    def creator(env_config):
        seen.append((dict(env_config), env_config.worker_index, env_config.vector_index))
        return OldApi()

    env = UserEnvCreator("old", creator)(worker_index=2, vector_index=1, size=3)
    obs, _ = env.reset(seed=0)
    assert isinstance(env, gymnasium.Env) and obs.shape == (1,)
    assert env.step(0)[2:4] == (False, True)  # done + TimeLimit.truncated -> truncated (Shimmy)
    assert seen == [({"size": 3}, 2, 1)]
    with pytest.raises(ValueError, match="registered as 'bad' returned builtins.int"):
        UserEnvCreator("bad", lambda config: 7)()


class Endless(gymnasium.Env):
    """Never ends an episode by itself (RLlib 1.x users set ``horizon`` for such envs)."""

    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 1.0, False, False, {}


def test_horizon_caps_a_user_env_as_it_caps_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """``horizon`` in the experiment's config reaches the user's env as a cap that RLlib's env runners apply (the
    creator never sees rlrt's key), as it did in RLlib 1.x."""
    import sys

    from sagemaker_rl.user_envs import UserEnvCreator

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    spec = resolve_spec(
        experiment_hyperparameters(experiment(horizon=7, env_config={"size": 3})), INSTALLED, default_preset=BASE_PRESET
    )
    seen = []

    def creator(env_config):
        seen.append(dict(env_config))
        return Endless()

    env = UserEnvCreator("endless", creator)(**dict(spec.env_config))
    env.reset(seed=0)
    steps = [env.step(0) for _ in range(7)]
    assert [s[3] for s in steps] == [False] * 6 + [True]  # truncated at the 7th step
    assert seen == [{"size": 3}]


def test_roboschool_compatibility_gives_pybullet_through_gym(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from sagemaker_rl import compat

    monkeypatch.setattr(sys, "path", [p for p in sys.path if "/compat/for_" not in p])
    assert compat.missing_folders() == [str(compat.folder(m)) for m in compat.MODULES]
    monkeypatch.setattr(sys, "path", [*sys.path, str(compat.folder("roboschool"))])
    assert compat.missing_folders() == [str(compat.folder("gym_unity")), str(compat.folder("rl_coach"))]
    monkeypatch.delitem(sys.modules, "roboschool", raising=False)
    import gym
    import roboschool  # noqa: F401

    from envs.adapters import to_gymnasium

    env = to_gymnasium(gym.make("RoboschoolHopper-v1"), "test")
    obs, _ = env.reset(seed=1)
    assert obs.shape == (15,) and env.action_space.shape == (3,)
    env.step(env.action_space.sample())
    env.close()
    cheetah = to_gymnasium(gym.make("RoboschoolHalfCheetah-v1"), "test")  # every Roboschool robot PyBullet has
    assert cheetah.observation_space.shape == (26,) and cheetah.action_space.shape == (6,)
    cheetah.close()
    assert compat.pythonpath_with(["/b"], "/a:/b") == "/a:/b" and compat.pythonpath_with(["/c"], "/a") == "/a:/c"


def test_an_uploaded_sagemaker_rl_is_found_in_a_folder_or_archive(tmp_path: Path) -> None:
    from runtime.job.removed_apis import read_source_dir
    from runtime.job.script_mode import refuse_uploaded_sagemaker_rl, uploaded_package_files

    (tmp_path / "src" / "sagemaker_rl").mkdir(parents=True)
    (tmp_path / "src" / "sagemaker_rl" / "ray_launcher.py").write_text("import ray.rllib.agents\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src", arcname=".")
    assert uploaded_package_files(read_source_dir(str(tmp_path / "src"))) == ["sagemaker_rl/ray_launcher.py"]
    assert uploaded_package_files(read_source_dir(f"file://{tmp_path / 'sourcedir.tar.gz'}")) == [
        "sagemaker_rl/ray_launcher.py"
    ]
    assert uploaded_package_files(read_source_dir("s3://bucket/sourcedir.tar.gz")) == []
    with pytest.raises(UserError, match="Drop dependencies"):
        refuse_uploaded_sagemaker_rl(
            {"sagemaker_submit_directory": str(tmp_path / "src")}, read_source_dir(str(tmp_path / "src"))
        )


def test_launcher_attributes_and_overrides_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import sys

    from ray.tune.registry import register_env

    from sagemaker_rl.ray_launcher import Cluster, SageMakerRayLauncher

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.setenv("SM_NUM_CPUS", "6")
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-2")
    monkeypatch.setenv("SM_RESOURCE_CONFIG", json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    monkeypatch.setenv("SM_HPS", json.dumps({"rl.training.config.num_sgd_iter": 3, "sagemaker_program": "x.py"}))

    class Launcher(SageMakerRayLauncher):
        def register_env_creator(self):
            register_env("unit_cartpole", lambda env_config: gymnasium.make("CartPole-v1"))

        def get_experiment_config(self):
            return {
                "training": {
                    "env": "unit_cartpole",
                    "run": "PPO",
                    "stop": {"training_iteration": 1},
                    "config": {"num_workers": self.num_cpus - 1},
                }
            }

        def customize_experiment_config(self, config):
            config = super().customize_experiment_config(config)
            config["training"]["config"]["lr"] = 0.01
            return config

    launcher = Launcher()
    assert (launcher.num_cpus, launcher.num_gpus, launcher.host_name) == (6, 0, "algo-2")
    assert launcher.hosts_info == ["algo-1", "algo-2"] and launcher.cluster_type is Cluster.Primary
    assert not launcher.is_master_node
    hyperparameters = launcher.training_hyperparameters()
    assert hyperparameters["rl.training.env"] == "sagemaker_rl/unit_cartpole"
    assert hyperparameters["rl.training.config.num_sgd_iter"] == 3 and hyperparameters["rl.training.config.lr"] == 0.01
    assert hyperparameters["rl.training.config.num_workers"] == 5
    env = gymnasium.make("sagemaker_rl/unit_cartpole")
    assert env.reset(seed=0)[0].shape == (4,)


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (KeyError("env_name"), ["MyLauncher.get_experiment_config() raised KeyError: 'env_name'"]),
        (None, ["MyLauncher.get_experiment_config() returned None", "it must return a dict: {'training': {'env'"]),
        ("PPO", ["MyLauncher.get_experiment_config() returned str 'PPO'", "it must return a dict"]),
        (
            {"env": "CartPole-v1", "run": "PPO"},
            [
                "MyLauncher.get_experiment_config() returned a dict without 'training'",
                "its keys: env, run",
                "{'training': {'env'",
            ],
        ),
    ],
)
def test_a_launchers_experiment_method_that_raises_or_returns_no_experiment_is_named(
    monkeypatch: pytest.MonkeyPatch, returned: object, expected: list[str]
) -> None:
    """The script's own method is named (its class and method), with its exception or what it must return."""
    from sagemaker_rl.ray_launcher import SageMakerRayLauncher

    monkeypatch.setenv("SM_HPS", "{}")

    class MyLauncher(SageMakerRayLauncher):
        def register_env_creator(self) -> None:
            pass

        def get_experiment_config(self):  # type: ignore[no-untyped-def]
            if isinstance(returned, Exception):
                raise returned
            return returned

    with pytest.raises(UserError) as refused:
        MyLauncher().training_hyperparameters()
    assert all(part in str(refused.value) for part in expected), str(refused.value)
