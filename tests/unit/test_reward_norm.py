"""rlrt's ``normalize_rewards`` (runtime/backends/rllib/reward_norm.py, RL Zoo's ``normalize: true``): the training env
an env runner builds from the job's AlgorithmConfig hands the learner the rewards gymnasium's ``NormalizeReward`` and
a clip to [-10, 10] make of the raw ones (checked against those wrappers put on a second copy of the env by hand,
stepped with the same seed and actions), while the episode return rlrt reports is the sum of the raw rewards; the
evaluation env runners' env is not normalised; the setting is checked, recorded with the job's settings and refused
where it cannot hold (a multi-agent env, d3rlpy's logged data)."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.wrappers.vector import DictInfoToList

from envs.vector import make_native_vector
from runtime.backends.d3rlpy.config_keys import quick_problems as d3rlpy_problems
from runtime.backends.rllib.algorithm import (
    _counted_env,
    _make_registered_env,
    build_algorithm_config,
    register_environment,
)
from runtime.backends.rllib.episode_metrics import finished_episode
from runtime.backends.rllib.reward_norm import ENV_KEY, split_context, with_normalized_rewards
from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.plugins import INSTALLED

GAMMA = 0.97


def spec_for(**config: Any) -> TrainingSpec:
    """A small PPO spec (the reacher preset's settings) with ``config`` added, resolved as a job resolves it."""
    params = {
        "preset": "reacher-ppo",
        "rl.training.config.num_env_runners": 0,
        "rl.training.config.num_envs_per_env_runner": 1,
        **{f"rl.training.config.{key}": value for key, value in config.items()},
    }
    return hp.resolve(params, INSTALLED.validator_for, num_cpus=2)


def env_runner_env(config: Any, name: str) -> Any:
    """The env an RLlib env runner of ``config`` builds: the registered creator called with its EnvContext."""
    from ray.rllib.env.env_context import EnvContext  # heavy: RLlib
    from ray.tune.registry import ENV_CREATOR, _global_registry  # heavy: Ray Tune

    creator = _global_registry.get(ENV_CREATOR, name)
    return creator(EnvContext(config.env_config, worker_index=1, num_workers=1))


def play(env: Any, actions: list[Any]) -> list[tuple[float, dict]]:
    """Each step's (reward, info) of ``actions`` played from a reset with seed 0, resetting after each episode."""
    env.reset(seed=0)
    steps = []
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        steps.append((float(reward), info))
        if terminated or truncated:
            env.reset()
    return steps


def test_the_learner_sees_normalised_rewards_and_rlrt_reports_the_raw_returns() -> None:
    spec = spec_for(normalize_rewards=True, gamma=GAMMA, env_config={"max_episode_steps": 150})
    name = register_environment("Pendulum-v1")
    config = build_algorithm_config(spec, name, env_id="Pendulum-v1")
    actions = [np.array([a], np.float32) for a in np.random.default_rng(0).uniform(-2, 2, 450)]

    trained = play(env_runner_env(config, name), actions)
    raw_env = gymnasium.make("Pendulum-v1", max_episode_steps=150)
    by_hand = gymnasium.wrappers.NormalizeReward(gymnasium.make("Pendulum-v1", max_episode_steps=150), GAMMA, 1e-8)
    expected = [reward for reward, _ in play(gymnasium.wrappers.ClipReward(by_hand, -10.0, 10.0), actions)]
    raw = [reward for reward, _ in play(raw_env, actions)]

    assert [reward for reward, _ in trained] == pytest.approx(expected, rel=1e-9)
    assert not np.allclose(expected, raw) and max(abs(r) for r in expected) <= 10.0
    episodes = [finished_episode(info) for _, info in trained]
    assert [e for e in episodes if e] == [(pytest.approx(sum(raw[i : i + 150]), rel=1e-9), 150) for i in (0, 150, 300)]

    # RLlib's evaluation env runners get the job's env_config with the setting off: the environment's own rewards.
    evaluation = config.get_evaluation_config_object()
    assert evaluation.env_config == {"max_episode_steps": 150, ENV_KEY: None}
    assert [reward for reward, _ in play(env_runner_env(evaluation, name), actions)] == pytest.approx(raw, rel=1e-12)


def test_without_the_setting_the_env_is_the_counted_one() -> None:
    config = build_algorithm_config(spec_for(gamma=GAMMA), register_environment("Pendulum-v1"), env_id="Pendulum-v1")
    assert ENV_KEY not in config.env_config
    env = _counted_env(functools.partial(_make_registered_env, "Pendulum-v1"), "Pendulum-v1", dict(config.env_config))
    assert not isinstance(env, gymnasium.wrappers.ClipReward)


def test_a_vectorised_env_is_normalised_outside_its_statistics() -> None:
    creator = functools.partial(_make_registered_env, "CartPole-v1")
    env = DictInfoToList(_counted_env(creator, "CartPole-v1", {"num_envs": 3, ENV_KEY: GAMMA}))
    by_hand = gymnasium.wrappers.vector.NormalizeReward(make_native_vector("CartPole-v1", 3), GAMMA, 1e-8)
    env.reset(seed=1)
    by_hand.reset(seed=1)
    episodes = []
    for step in range(150):
        action = np.random.default_rng(step).integers(0, 2, 3)
        _, rewards, _, _, infos = env.step(action)
        _, expected, _, _, _ = by_hand.step(action)
        assert rewards == pytest.approx(np.clip(expected, -10.0, 10.0), rel=1e-6)
        episodes += [episode for episode in map(finished_episode, infos) if episode]
    # CartPole pays 1 a step, so a raw return is its episode's length; the learner's rewards are not 1.
    assert len(episodes) > 5 and all(ret == length for ret, length in episodes)
    assert not np.allclose(rewards, 1.0)


def test_the_context_loses_the_key_and_keeps_the_env_runners_index() -> None:
    from ray.rllib.env.env_context import EnvContext  # heavy: RLlib

    context = EnvContext({"a": 1, ENV_KEY: 0.9}, worker_index=3)
    rest, gamma = split_context(context)
    assert (dict(rest), rest.worker_index, gamma) == ({"a": 1}, 3, 0.9)
    assert ENV_KEY in context  # every env of the runner is built from the same context
    assert split_context({"a": 1}) == ({"a": 1}, None)
    assert split_context({"a": 1, ENV_KEY: None}) == ({"a": 1}, None)  # the evaluation env runners'


def test_the_setting_is_checked_recorded_and_refused_where_it_cannot_hold() -> None:
    spec = spec_for(normalize_rewards=True)
    assert spec.to_dict()["config"]["normalize_rewards"] is True  # model/config.yaml
    for wrong in ("yes", 1):  # as RLlib's own true-or-false keys, only a JSON boolean
        with pytest.raises(
            UserError, match=rf"'rl.training.config.normalize_rewards' must be true or false.*{wrong!r}"
        ):
            spec_for(normalize_rewards=wrong)
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole  # heavy: RLlib

    with pytest.raises(UserError, match=r"normalize_rewards' normalises a single-agent .* is multi-agent"):
        with_normalized_rewards(MultiAgentCartPole({"num_agents": 2}), GAMMA, "MultiAgentCartPole")
    (problem,) = d3rlpy_problems("DiscreteBCQ", {"normalize_rewards": True})
    assert "d3rlpy trains on logged rewards" in problem and "reward_scaler" in problem
