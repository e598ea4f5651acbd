"""Every evaluation episode has a step budget: an environment that never ends an episode is cut, counted as truncated,
with one line naming the setting to raise, instead of playing until the job is killed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.errors import UserError
from runtime.evaluate.episodes import DEFAULT_STEP_BUDGET, run_episodes
from runtime.evaluate.evaluator import evaluate_policy
from runtime.evaluate.settings import check_hyperparameters

NEVER_ENDS = "tests.bad_value_envs:NeverEnds-v0"


def bounded_policy(calls: int) -> Any:
    """A policy of action 0 that fails past ``calls`` batches (the loop without a budget would go on for ever)."""
    count = 0

    def act(observations: np.ndarray) -> list[int]:
        nonlocal count
        count += 1
        if count > calls:
            raise AssertionError(f"still playing after {calls} steps: the episode was never cut")
        return [0] * len(observations)

    return act


def test_an_episode_that_never_ends_is_cut_at_the_default_budget_with_one_line() -> None:
    out = io.StringIO()
    result = run_episodes(bounded_policy(2 * DEFAULT_STEP_BUDGET), NEVER_ENDS, episodes=1, parallel=1, out=out)
    assert result.lengths == (DEFAULT_STEP_BUDGET,)
    assert result.returns == (float(DEFAULT_STEP_BUDGET),)
    lines = out.getvalue().splitlines()
    assert lines == [
        f"rlrt: evaluation episode 1 did not end within {DEFAULT_STEP_BUDGET} steps: it ends there, "
        "truncated (raise the hyperparameter evaluate_max_episode_steps to play longer episodes)"
    ]


def test_the_setting_sets_the_budget_of_every_episode_played_side_by_side() -> None:
    out = io.StringIO()
    result = run_episodes(bounded_policy(1000), NEVER_ENDS, episodes=3, parallel=2, step_budget=25, out=out)
    assert result.lengths == (25, 25, 25)
    assert [line.split(" did")[0] for line in out.getvalue().splitlines()] == [
        f"rlrt: evaluation episode {n}" for n in (1, 2, 3)
    ]


def test_an_env_with_its_own_step_limit_ends_its_episodes_itself_without_a_line() -> None:
    out = io.StringIO()
    result = run_episodes(
        bounded_policy(10_000), "CartPole-v1", episodes=2, parallel=1, out=out, env_config={"max_episode_steps": 30}
    )
    assert all(length <= 30 for length in result.lengths)
    assert out.getvalue() == ""
    out = io.StringIO()  # an env that ends its episodes itself (no TimeLimit) is not cut either
    assert run_episodes(bounded_policy(100), "tests.bad_value_envs:FourFloats-v0", episodes=2, out=out).lengths == (
        10,
        10,
    )
    assert out.getvalue() == ""


def test_the_final_evaluation_of_a_training_job_takes_the_budget(tmp_path: Path) -> None:
    out = io.StringIO()
    result = evaluate_policy(lambda observation: 0, NEVER_ENDS, 2, 3, tmp_path, out, step_budget=40)
    assert result.lengths == (40, 40)
    assert out.getvalue().count("did not end within 40 steps") == 2
    assert json.loads((tmp_path / "evaluation.json").read_text())["lengths"] == [40, 40]


def test_rlrt_evaluate_takes_the_setting_and_checks_it() -> None:
    assert check_hyperparameters({"evaluate_max_episode_steps": "500"})["evaluate_max_episode_steps"] == 500
    with pytest.raises(UserError, match="'evaluate_max_episode_steps' must be an integer >= 1"):
        check_hyperparameters({"evaluate_max_episode_steps": 0})
