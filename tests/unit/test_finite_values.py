"""The check every training env gets (runtime/backends/rllib/finite_values.py): the first NaN or infinite reward or
observation ends the episode, the learner sees finite stand-ins, and the message (env, step, value) travels in the
step's info to the env runners' metrics, from which the driver ends the job. The whole path in a real job:
tests/jobs/test_train.py::test_a_nan_reward_stops_the_job_naming_the_env_step_and_value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runtime.backends.rllib.algorithm import _counted_env
from runtime.backends.rllib.episode_metrics import EPISODE_INFO, on_episode_end
from runtime.backends.rllib.finite_values import NON_FINITE, first_non_finite, non_finite_message
from tests.bad_value_envs import BadValue


def play(env, steps: int = 8) -> list[tuple]:  # type: ignore[no-untyped-def]
    env.reset(seed=0)
    return [env.step(0) for _ in range(steps)]


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"reward": math.nan}, "The environment BadValue-v0 returned the reward nan on step 5 of one of its envs."),
        ({"reward": -math.inf}, "The environment BadValue-v0 returned the reward -inf on step 5 of one of its envs."),
        (
            {"observation": math.inf},
            "The environment BadValue-v0 returned an observation with inf at observation[1] on "
            "step 5 of one of its envs.",
        ),
    ],
)
def test_the_first_non_finite_value_ends_the_episode_naming_env_step_and_value(
    setting: dict, message: str, recwarn: pytest.WarningsRecorder
) -> None:
    env = _counted_env(lambda context: BadValue(**context), "BadValue-v0", setting)
    steps = play(env)
    # The check finds an inf by its NaN dot product: numpy's warning about it would only precede the message.
    assert not [w for w in recwarn if "encountered" in str(w.message)]
    observation, reward, _, truncated, info = steps[4]
    assert info[NON_FINITE].startswith(message + " Training on a non-finite")
    assert truncated and reward == (1.0 if "observation" in setting else 0.0) and np.isfinite(observation).all()
    assert info[EPISODE_INFO]["l"] == 5  # the statistics wrap the check: the episode ends there
    assert all(NON_FINITE not in step[4] and step[1] == 1.0 for step in steps[:4] + steps[5:])


def test_finite_values_pass_unchanged_and_only_floats_are_looked_at() -> None:
    env = _counted_env(lambda context: BadValue(**context), "BadValue-v0", {})
    assert not any(NON_FINITE in step[4] or step[3] for step in play(env, 19))
    assert first_non_finite(np.array([np.nan], np.float32)) == ("[0]", pytest.approx(math.nan, nan_ok=True))
    env = _counted_env(lambda context: BadValue(**context), "BadValue-v0", {"observation": 3e38})
    assert not any(NON_FINITE in step[4] for step in play(env))  # large, but finite
    assert first_non_finite({"pos": np.zeros(2), "vel": np.array([[0.0, -np.inf]])}) == ("['vel'][0, 1]", -math.inf)
    assert first_non_finite(np.array([True, False])) is None and first_non_finite(np.arange(3)) is None


class Logger:
    def __init__(self) -> None:
        self.logged: dict[str, list] = {}

    def log_value(self, key: str, value: object, reduce: str = "") -> None:
        self.logged.setdefault(key, []).append(value)


class Episode:
    def __init__(self, info: dict) -> None:
        self.info = info

    def get_infos(self, index: int) -> dict:
        return self.info


def test_the_env_runners_log_the_message_not_the_episode_and_the_driver_reads_it() -> None:
    logger = Logger()
    on_episode_end(
        episode=Episode({NON_FINITE: "nan on step 5", EPISODE_INFO: {"r": 4.0, "l": 5}}), metrics_logger=logger
    )
    assert logger.logged == {NON_FINITE: ["nan on step 5"]}
    assert non_finite_message(logger.logged) == "nan on step 5"
    assert non_finite_message({"rlrt_episodes": [(1.0, 2)]}) is None


def _two_agents(rewards: list[dict], observations: list[dict]) -> object:
    from ray.rllib.env.multi_agent_episode import MultiAgentEpisode  # heavy: RLlib

    return MultiAgentEpisode(
        observations=observations,
        actions=[{"a": 0, "b": 0}] * len(rewards),
        rewards=rewards,
        terminateds={"__all__": True, "a": True, "b": True},
        len_lookback_buffer=0,
    )


@pytest.mark.parametrize(
    "rewards, observations, message",
    [
        (
            [{"a": 1.0, "b": 1.0}, {"a": 1.0, "b": math.nan}],
            None,
            "The multi-agent environment returned the reward nan for agent 'b' on its step 2 of the episode.",
        ),
        (
            None,
            {1: {"a": np.array([0.0, np.inf], np.float32)}},
            "The multi-agent environment returned an observation with inf at observation[1] for agent 'a' "
            "on its step 1",
        ),
    ],
)
def test_a_multi_agent_episode_with_a_non_finite_value_is_logged_as_the_message_not_counted(
    rewards: list | None, observations: dict | None, message: str
) -> None:
    """A multi-agent env has no single gymnasium env to check step by step: its finished episode is looked through
    (RLlib's own episode object), the message goes where the driver reads it, the episode is not counted."""
    steps = rewards or [{"a": 1.0, "b": 1.0}] * 2
    obs = [{"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)} for _ in range(len(steps) + 1)]
    for index, replaced in (observations or {}).items():
        obs[index] = {**obs[index], **replaced}
    logger = Logger()
    on_episode_end(episode=_two_agents(steps, obs), metrics_logger=logger)
    [logged] = logger.logged[NON_FINITE]
    assert logged.startswith(message) and "Training on a non-finite" in logged
    assert "rlrt_episodes" not in logger.logged
    fine = Logger()
    on_episode_end(episode=_two_agents([{"a": 1.0, "b": 2.0}] * 2, [obs[0]] * 3), metrics_logger=fine)
    assert fine.logged == {"rlrt_episodes": [(6.0, 2)]}
