"""The episode numbers rlrt reports come from gymnasium's RecordEpisodeStatistics in each training env: an episode
played by hand returns what the wrapper's last info says, a user's own ``episode`` info key is left alone, and a
multi-agent env is not wrapped (its numbers are RLlib's). The jobs against an independent count over the layouts
users get: tests/jobs/test_episode_oracle_jobs.py."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from runtime.backends.rllib.episode_metrics import EPISODE_INFO, finished_episode, with_episode_statistics


class UserRecorded(gymnasium.Wrapper):
    """A user's env that already reports its own ``episode`` info (SB3's Monitor and gymnasium's default key)."""

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, "episode": "the user's"}


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_an_episode_returns_what_it_was_paid_each_step_once(env_id: str) -> None:
    env = with_episode_statistics(UserRecorded(gymnasium.make(env_id, max_episode_steps=60)))
    env.reset(seed=3)
    env.action_space.seed(3)
    rewards, done, info = [], False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        rewards.append(float(reward))
        done = terminated or truncated
    assert finished_episode(info) == (pytest.approx(np.sum(rewards), rel=1e-12), len(rewards))
    assert info["episode"] == "the user's"
    env.close()


def test_no_statistics_before_the_episode_ends_and_none_without_the_wrapper() -> None:
    env = with_episode_statistics(gymnasium.make("CartPole-v1"))
    env.reset(seed=0)
    assert finished_episode(env.step(0)[4]) is None
    assert finished_episode({"episode": {"r": 1.0, "l": 1}}) is None and finished_episode(None) is None
    assert finished_episode({EPISODE_INFO: {"r": 3.0, "l": 2, "t": 0.1}}) == (3.0, 2)


def test_a_multi_agent_env_keeps_rllibs_numbers() -> None:
    from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole  # heavy: RLlib

    env = MultiAgentCartPole({"num_agents": 2})
    assert with_episode_statistics(env) is env
