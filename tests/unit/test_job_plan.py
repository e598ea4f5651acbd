"""A training job's plan (:mod:`runtime.job.plan`): its hyperparameters resolved once, before any backend's library
loads, into what every stage reads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import UserError
from runtime.job.plan import COMMAND_LINE, STORED, plan_job
from runtime.job.setup import resolve_plan
from runtime.plugins import INSTALLED

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"rl.training.run": "ppo", "seed": 3},
        {"rl.training.env": "Acrobot-v1", "rl.training.run": "DQN"},
        {"rl.training.config.env": "Pendulum-v1", "rl.training.run": "bcq"},
        {"preset": "cartpole-bcq"},
        {"preset": "cartpole-bcq", "rl.training.run": "cql"},
    ],
)
def test_the_plans_first_part_agrees_with_the_resolved_spec(given: dict[str, Any]) -> None:
    """What the quick check and the early start read before anything loads is what the full resolution decides."""
    plan = resolve_plan(plan_job(given, INSTALLED), INSTALLED, num_cpus=2)
    spec = plan.spec
    assert spec is not None and plan.backend is not None
    assert (plan.algorithm, plan.env, plan.seed, plan.pass_bar) == (spec.algorithm, spec.env, spec.seed, spec.pass_bar)
    assert plan.backend is INSTALLED.training_backend(spec)


def test_a_plan_names_the_preset_algorithm_backend_and_tree_without_loading_a_library() -> None:
    code = textwrap.dedent("""
        import sys
        from runtime.job.plan import plan_job
        from runtime.plugins import INSTALLED
        plan = plan_job({"rl.training.env": "Acrobot-v1", "rl.training.run": "dqn", "seed": 4}, INSTALLED)
        print(plan.choice.name, plan.algorithm, plan.backend.name, plan.env, plan.seed, plan.tree_hint)
        print(sorted({m.split(".")[0] for m in sys.modules} & {"ray", "d3rlpy", "torch"}))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["cartpole-ppo DQN rllib Acrobot-v1 4 acrobot-dqn-s4", "[]"]


def test_a_plan_keeps_what_is_wrong_for_the_stage_that_reports_it() -> None:
    """Made before anything is checked, a plan never raises: the full resolution raises what is wrong (after the
    problems it names first), as it did before there was a plan."""
    unknown = plan_job({"preset": "cartpole-ppx"}, INSTALLED)
    assert (unknown.algorithm, unknown.backend, unknown.tree_hint) == (None, None, "cartpole-ppx")
    assert isinstance(unknown.choice.error, UserError) and "Did you mean 'cartpole-ppo'" in str(unknown.choice.error)
    with pytest.raises(UserError) as raised:
        resolve_plan(unknown, INSTALLED)
    assert raised.value is unknown.choice.error
    wrong = plan_job({"rl.training.run": "PPOO"}, INSTALLED)
    assert wrong.backend is None and "Unknown algorithm 'PPOO'. Did you mean 'PPO'?" in str(wrong.problem)
    with pytest.raises(UserError) as full:
        resolve_plan(wrong, INSTALLED)
    assert full.value is wrong.problem


def test_a_plan_says_where_each_setting_came_from() -> None:
    given = {"rl.training.config.lr": 0.001, "rl.training.stop.training_iteration": 2, "sagemaker_program": "x.py"}
    plan = plan_job(given, INSTALLED, overrides={"rl.training.config.lr": 0.001})
    assert dict(plan.origins) == {"rl.training.config.lr": COMMAND_LINE, "rl.training.stop.training_iteration": STORED}
    assert dict(plan.config) == {"lr": 0.001} and dict(plan.stop) == {"rl.training.stop.training_iteration": 2}
    assert plan.made_from({k: v for k, v in given.items() if k != "sagemaker_program"})
    assert not plan.made_from({"rl.training.config.lr": 0.002})
