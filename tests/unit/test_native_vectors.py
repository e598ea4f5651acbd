"""Environments with their own vectorised class (envs/vector.py: CartPole's ``CartPoleVectorEnv``) are stepped as
such by the env runners (``gym_env_vectorize_mode: vector_entry_point``, chosen in runtime/config/runners.py), with the
same checks as one env at a time: every episode counted by gymnasium's own (vector) ``RecordEpisodeStatistics``, and
the first non-finite value ending its episode with the message. The job against an independent count:
tests/jobs/test_episode_oracle_jobs.py::test_cartpole_in_its_own_vectorised_class_counts_every_episode."""

from __future__ import annotations

import functools
import math

import gymnasium
import numpy as np
import pytest
from gymnasium.wrappers.vector import DictInfoToList

from envs.vector import has_native_vector, make_native_vector
from runtime.backends.rllib.algorithm import _counted_env, _make_registered_env
from runtime.backends.rllib.episode_metrics import EPISODE_INFO, finished_episode
from runtime.backends.rllib.finite_values import NON_FINITE, with_finite_values
from runtime.config.runners import runner_defaults
from tests.bad_value_envs import BadValue


@pytest.mark.parametrize(
    "env_id, env_config, native",
    [
        ("CartPole-v1", {}, True),
        ("CartPole", None, True),  # the alias
        ("CartPole-v0", {}, True),  # the Batch RL seed's
        ("CartPole-v1", {"max_episode_steps": 100}, False),  # keyword arguments: built one env at a time
        ("Pendulum-v1", {}, False),  # no vectorised class
        ("HopperBulletEnv-v0", {}, False),
        ("unity:Basic", {}, False),  # our own adapter
        ("no_such_module:Nothing-v0", {}, False),  # the job's checks name that, not this
    ],
)
def test_only_a_plain_registration_with_a_vectorised_class_is_built_as_one(
    env_id: str, env_config: dict | None, native: bool
) -> None:
    assert has_native_vector(env_id, env_config) is native


def test_the_layout_defaults_to_native_vectors_unless_the_settings_choose() -> None:
    assert runner_defaults({}, "CartPole-v1", {}, 2) == {
        "num_env_runners": 0,
        "gym_env_vectorize_mode": "vector_entry_point",
    }
    assert runner_defaults({"gym_env_vectorize_mode": "sync"}, "CartPole-v1", {}, None) == {}
    assert runner_defaults({}, "Pendulum-v1", {}, None) == {}
    assert runner_defaults({}, "CartPole-v1", {"max_episode_steps": 100}, 4) == {"num_env_runners": 3}


def test_each_episode_of_the_vectorised_cartpole_returns_what_its_env_was_paid() -> None:
    """The rewards each env returned, summed by hand between its episode's ends (gymnasium's next-step autoreset:
    the step after an end only resets), against what the statistics report per env."""
    env = DictInfoToList(
        _counted_env(functools.partial(_make_registered_env, "CartPole-v1"), "CartPole-v1", {"num_envs": 4})
    )
    assert "CartPoleVectorEnv" in str(env)
    env.reset(seed=3)
    env.action_space.seed(3)
    paid = np.zeros(4)
    lengths = np.zeros(4, int)
    resetting = np.zeros(4, bool)
    hand, reported = [], []
    for _ in range(400):
        _, rewards, terminated, truncated, infos = env.step(env.action_space.sample())
        paid = np.where(resetting, 0.0, paid + rewards)
        lengths = np.where(resetting, 0, lengths + 1)
        ended = (terminated | truncated) & ~resetting
        for i in np.flatnonzero(ended):
            hand.append((float(paid[i]), int(lengths[i])))
            reported.append(finished_episode(infos[i]))
        assert all(finished_episode(infos[i]) is None for i in np.flatnonzero(~ended))
        resetting = terminated | truncated
    assert len(hand) > 20 and reported == hand
    env.close()


@pytest.mark.parametrize("env_id, limit", [("CartPole-v1", 500), ("CartPole-v0", 200)])
def test_the_vectorised_cartpole_truncates_at_its_registered_limit(env_id: str, limit: int) -> None:
    env = make_native_vector(env_id, 3)
    observations, _ = env.reset(seed=0)
    for step in range(1, limit + 1):
        # A hand-tuned linear controller (pole angle and spin, a little of the cart's) keeps every pole up.
        push_right = (
            observations[:, 2] + 0.5 * observations[:, 3] + 0.01 * observations[:, 0] + 0.1 * observations[:, 1] > 0
        )
        observations, _, terminated, truncated, _ = env.step(push_right.astype(int))
        assert not terminated.any() and truncated.all() == (step == limit), step
    env.close()


def test_a_non_finite_value_in_a_vector_ends_that_envs_episode_with_the_message(
    recwarn: pytest.WarningsRecorder,
) -> None:
    """A vector of envs built by the job's own creator (stepped one by one): env 1 returns a NaN reward on its step
    5; env 0 goes on."""

    def creator(context: dict) -> BadValue:
        creator.built += 1  # type: ignore[attr-defined]
        return BadValue(reward=math.nan if creator.built == 2 else 1.0)  # type: ignore[attr-defined]

    creator.built = 0  # type: ignore[attr-defined]
    env = DictInfoToList(_counted_env(creator, "BadValue-v0", {"num_envs": 2}))
    env.reset(seed=0)
    steps = [env.step(np.zeros(2, int)) for _ in range(8)]
    assert not [w for w in recwarn if "encountered" in str(w.message)]
    observations, rewards, _, truncated, infos = steps[4]
    assert infos[1][NON_FINITE].startswith(
        "The environment BadValue-v0 returned the reward nan on step 5 of one of its envs. Training on a non-finite"
    )
    assert NON_FINITE not in infos[0] and list(truncated) == [False, True] and list(rewards) == [1.0, 0.0]
    assert np.isfinite(observations).all()
    assert infos[1][EPISODE_INFO]["l"] == 5 and infos[1][EPISODE_INFO]["r"] == 4.0  # the stand-in reward 0
    assert all(NON_FINITE not in info for step in steps[:4] + steps[5:] for info in step[4])


def test_a_non_finite_observation_in_a_vector_is_replaced_by_the_last_finite_one() -> None:
    vector = gymnasium.vector.SyncVectorEnv([lambda: BadValue(), lambda: BadValue(at_step=3, observation=math.inf)])
    env = DictInfoToList(with_finite_values(vector, "BadValue-v0"))
    env.reset(seed=0)
    steps = [env.step(np.zeros(2, int)) for _ in range(3)]
    observations, _, _, truncated, infos = steps[2]
    assert np.isfinite(observations).all() and list(truncated) == [False, True]
    assert infos[1][NON_FINITE].startswith(
        "The environment BadValue-v0 returned an observation with inf at observation[1] on step 3 of one of its envs."
    )
