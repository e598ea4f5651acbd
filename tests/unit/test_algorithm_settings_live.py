"""Where each algorithm setting comes from (the preset, the table for the env's spaces, ``--set``, the hyperparameters
file), read back from the LIVE RLlib algorithm (``algo.config`` of the built Algorithm, not rlrt's copy) and from the
model folder's config.yaml, and checked against RL Zoo's published values (hyperparams/ppo.yml, dqn.yml, sac.yml,
a2c.yml) where the table gave them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest
import yaml

from runtime.backends.rllib.algorithm import build_algorithm_config
from runtime.backends.rllib.ray_process import init_ray, shutdown_ray
from runtime.config import hyperparameters as hp
from runtime.export.model_dir import write_resolved_config
from runtime.job.environment import load_environment
from runtime.plugins import INSTALLED
from tests.conftest import make_job_tree

pytestmark = pytest.mark.slow  # builds an RLlib algorithm per case (~5-20 s each on two loaded cores)

RLRT_OWN = {"observation_filter", "log_std_init"}
"""rlrt's own settings (a connector, a callback): not RLlib configuration keys."""

CASES: dict[str, dict[str, Any]] = {
    # PPO on an env without a preset: RL Zoo's ppo.yml Acrobot-v1 (16 envs x 256 steps, 4 epochs of 64, lambda 0.94).
    "ppo-acrobot-space-defaults": {
        "given": {hp.ENV: "Acrobot-v1", hp.RUN: "ppo"},
        "env": "Acrobot-v1",
        "preset": "space-defaults/PPO-discrete",
        "expect": {
            "num_envs_per_env_runner": 16,
            "train_batch_size_per_learner": 4096,
            "num_epochs": 4,
            "minibatch_size": 64,
            "lambda": 0.94,
            "gamma": 0.99,
            "lr": 3e-4,
            "clip_param": 0.2,
        },
    },
    # The preset's own algorithm on its own env: the preset's settings (presets/cartpole-ppo.yaml).
    "ppo-cartpole-preset": {
        "given": {hp.RUN: "Ppo"},
        "env": "CartPole-v1",
        "preset": "cartpole-ppo",
        "expect": {
            "num_envs_per_env_runner": 32,
            "train_batch_size_per_learner": 2048,
            "num_epochs": 4,
            "minibatch_size": 256,
            "gamma": 0.98,
            "clip_param": 0.3,
        },
    },
    # --set on top of the table: the user's values win, the rest stays the table's.
    "dqn-acrobot-set": {
        "given": {hp.ENV: "Acrobot-v1", hp.RUN: "DQN", "rl.training.config.lr": 1e-3, "rl.training.config.gamma": 0.9},
        "env": "Acrobot-v1",
        "preset": "space-defaults/DQN-discrete",
        "expect": {"lr": 1e-3, "gamma": 0.9, "train_batch_size_per_learner": 512},
    },
    # SAC on continuous actions: RL Zoo's sac.yml MuJoCo sections (SB3 defaults, 10,000 random steps first).
    "sac-pendulum-space-defaults": {
        "given": {hp.ENV: "Pendulum-v1", hp.RUN: "sac"},
        "env": "Pendulum-v1",
        "preset": "space-defaults/SAC-continuous",
        "expect": {
            "actor_lr": 3e-4,
            "critic_lr": 3e-4,
            "tau": 0.005,
            "gamma": 0.99,
            "train_batch_size_per_learner": 256,
            "num_steps_sampled_before_learning_starts": 10_000,
        },
    },
    # A preset named for another algorithm (CartPole-PPO): its environment and stop criteria, none of its settings;
    # DQN's from RL Zoo's dqn.yml Acrobot-v1 section (CartPole-v1's has the same values).
    "dqn-cartpole-preset-named": {
        "given": {"preset": "cartpole-ppo", hp.RUN: "dqn"},
        "env": "CartPole-v1",
        "preset": "space-defaults/DQN-discrete",
        "expect": {
            "lr": 2.5e-4,
            "gamma": 0.99,
            "train_batch_size_per_learner": 512,
            "num_envs_per_env_runner": 1,
            "target_network_update_freq": 5000,
            "num_steps_sampled_before_learning_starts": 0,
            "training_intensity": 512 * 4 / 16,
            "double_q": False,
            "dueling": False,
            "epsilon": [[0, 1.0], [int(0.06 * 150_000), 0.11]],
        },
    },
    # APPO from SageMaker's hyperparameters file (JSON-encoded strings): PPO's row without its epochs and minibatches.
    "appo-cartpole-hyperparameters-file": {
        "file": {hp.RUN: "appo", hp.ENV: "CartPole-v1", "rl.training.config.entropy_coeff": "0.01"},
        "env": "CartPole-v1",
        "preset": "space-defaults/APPO-discrete",
        "expect": {
            "entropy_coeff": 0.01,
            "num_envs_per_env_runner": 16,
            "rollout_fragment_length": 256,
            "clip_param": 0.2,
            "lr": 3e-4,
        },
    },
    # IMPALA: RL Zoo's a2c.yml Acrobot-v1 section (16 envs, SB3's A2C: 5 steps, lr 7e-4, value coefficient 0.5).
    "impala-cartpole-space-defaults": {
        "given": {hp.RUN: "impala"},
        "env": "CartPole-v1",
        "preset": "space-defaults/IMPALA-discrete",
        "expect": {
            "num_envs_per_env_runner": 16,
            "rollout_fragment_length": 5,
            "lr": 7e-4,
            "vf_loss_coeff": 0.5,
            "entropy_coeff": 0.0,
            "grad_clip": 0.5,
        },
    },
}


@pytest.fixture(scope="module")
def ray_for_building() -> Iterator[None]:
    local = init_ray(2, 0)  # the job's own Ray settings
    try:
        yield
    finally:
        shutdown_ray(local)


def live_value(config: Any, key: str) -> Any:
    """``key`` of a built algorithm's config, by its public name."""
    data = config.to_dict()
    return data[key] if key in data else data.get(f"_{key}", getattr(config, key, None))


def same(recorded: Any, live: Any) -> bool:
    """A recorded value equals the live one (lists and tuples alike; a recorded mapping within the live one)."""
    if isinstance(recorded, Mapping):
        return isinstance(live, Mapping) and all(same(v, live.get(k)) for k, v in recorded.items())
    if isinstance(recorded, float) or isinstance(live, float):
        return live is not None and math.isclose(float(recorded), float(live), rel_tol=1e-9)
    return json.loads(json.dumps(recorded)) == json.loads(json.dumps(live, default=list))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_live_algorithm_trains_with_what_config_yaml_records(
    case: str, tmp_path: Path, ray_for_building: None
) -> None:
    cell = CASES[case]
    given = cell.get("given")
    if given is None:  # SageMaker's hyperparameters.json, every value a JSON-encoded string
        tree = make_job_tree(tmp_path / "ml", cell["file"])
        given = dict(load_environment(tree.base).hyperparameters)
    spec = hp.resolve(given, INSTALLED.validator_for, num_cpus=2)
    write_resolved_config(tmp_path / "model", spec)
    recorded = yaml.safe_load((tmp_path / "model" / "config.yaml").read_text())
    assert (recorded["algorithm"], recorded["env"], recorded["preset"]) == (spec.algorithm, cell["env"], cell["preset"])
    for key, value in cell["expect"].items():  # the source's value reached the record
        assert same(value, recorded["config"][key]), (key, value, recorded["config"][key])
    algo = build_algorithm_config(spec, cell["env"]).build_algo()
    try:
        assert type(algo).__name__ == recorded["algorithm"]
        for key, value in recorded["config"].items():
            if key == "model_config":
                value = {k: v for k, v in value.items() if k not in RLRT_OWN}
                assert same(value, algo.config.model_config), (key, value, algo.config.model_config)
            elif key not in RLRT_OWN:
                assert same(value, live_value(algo.config, key)), (key, value, live_value(algo.config, key))
    finally:
        algo.stop()
