"""A training job's plan (:mod:`runtime.job.plan`): its hyperparameters resolved once, before any backend's library
loads, into what every stage reads; and one job, run end to end, parsing its preset and choosing its backend once."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from conftest import make_job_tree
from test_driver import CountingBackend

from runtime.config import presets
from runtime.config.presets import DEFAULT_PRESET, load_preset
from runtime.contracts import Plugins
from runtime.errors import UserError
from runtime.job.plan import COMMAND_LINE, STORED, plan_job
from runtime.job.setup import resolve_plan
from runtime.names import CONFIG_YAML, MODEL_DIR
from runtime.plugins import INSTALLED
from runtime.train.job import _quick_check, run_training_job

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
    """Made before anything is checked, a plan never raises: the full resolution raises a preset's error (after the
    problems it names first), the quick check an algorithm's, each as it did before there was a plan."""
    unknown = plan_job({"preset": "cartpole-ppx"}, INSTALLED)
    assert (unknown.algorithm, unknown.backend, unknown.tree_hint) == (None, None, "cartpole-ppx")
    assert isinstance(unknown.choice.error, UserError) and "Did you mean 'cartpole-ppo'" in str(unknown.choice.error)
    with pytest.raises(UserError) as raised:
        resolve_plan(unknown, INSTALLED)
    assert raised.value is unknown.choice.error
    given = {"rl.training.run": "PPOO"}
    wrong = plan_job(given, INSTALLED)
    assert wrong.backend is None and "Unknown algorithm 'PPOO'. Did you mean 'PPO'?" in str(wrong.problem)
    with pytest.raises(UserError) as quick:
        _quick_check(Job(given), wrong)
    assert quick.value is wrong.problem
    with pytest.raises(UserError) as full:
        resolve_plan(wrong, INSTALLED)
    assert full.value is wrong.problem


class Job:
    """What the quick check reads of a job besides its plan (the limits, messages about stored values)."""

    def __init__(self, hyperparameters: dict[str, Any]) -> None:
        self.hyperparameters = self.overrides = hyperparameters


def test_a_plan_says_where_each_setting_came_from() -> None:
    given = {"rl.training.config.lr": 0.001, "rl.training.stop.training_iteration": 2, "sagemaker_program": "x.py"}
    plan = plan_job(given, INSTALLED, overrides={"rl.training.config.lr": 0.001})
    assert dict(plan.origins) == {
        "rl.training.config.lr": COMMAND_LINE,
        "rl.training.stop.training_iteration": STORED,
        "sagemaker_program": STORED,
    }
    assert dict(plan.config) == {"lr": 0.001} and dict(plan.stop) == {"rl.training.stop.training_iteration": 2}
    assert plan.made_from({k: v for k, v in given.items() if k != "sagemaker_program"})
    assert not plan.made_from({"rl.training.config.lr": 0.002})


def _count(calls: list[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return function(*args, **kwargs)

    return counted


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each call of what parses the shipped presets (:func:`all_presets`), finds one (:func:`load_preset`), picks one
    (:func:`preset_for_job`) or chooses a backend (:meth:`Plugins.backend_for`, which every other lookup calls),
    wherever a module imported it from."""
    calls: list[str] = []
    for name in ("all_presets", "load_preset", "preset_for_job"):
        original = getattr(presets, name)
        counted = _count(calls, name, original)
        for module in list(sys.modules.values()):
            if vars(module).get(name) is original:
                monkeypatch.setattr(module, name, counted)
    monkeypatch.setattr(Plugins, "backend_for", _count(calls, "backend_for", Plugins.backend_for))
    return calls


COUNTING = Plugins(backends=(*INSTALLED.backends, CountingBackend()), families=INSTALLED.families)


@pytest.mark.parametrize("env", [None, "Acrobot-v1"])  # Acrobot: the default preset's stop replaced, and said so
@pytest.mark.parametrize("new_tree", [False, True])  # a new tree: named from the plan the job then reads
def test_one_job_parses_its_preset_and_chooses_its_backend_once(
    reads: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str | None, new_tree: bool
) -> None:
    """From the command line to the model folder: the tree's name, the quick check, the early start, the full
    resolution, the stop note, the driver and ``config.yaml`` all read the one plan."""
    given = {"rl.training.backend": "counting", "rl.training.stop.training_iteration": 2, "seed": 1}
    if env is not None:
        given["rl.training.env"] = env
    monkeypatch.delenv("SAGEMAKER_BASE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    base = None if new_tree else make_job_tree(tmp_path / "ml").base
    assert run_training_job(base, given, DEFAULT_PRESET, plugins=COUNTING) == 0
    assert sorted(reads) == ["all_presets", "backend_for", "load_preset", "preset_for_job"]
    tree = base or next((tmp_path / "rlrt-jobs").iterdir())
    assert tree.name.startswith(f"{'acrobot-ppo' if env else 'cartpole-ppo'}-s1-") or not new_tree
    config = (tree / MODEL_DIR / CONFIG_YAML).read_text()
    assert "backend: counting" in config and f"env: {env or 'CartPole-v1'}" in config


def test_a_users_rl_zoo_file_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether a user's preset file is RL Zoo's (its converter fills SB3's defaults) is known from its parse: where
    the job's settings come from is decided without reading the file again."""
    calls: list[str] = []
    monkeypatch.setattr(yaml, "safe_load", _count(calls, "yaml", yaml.safe_load))
    zoo = ROOT / "tests" / "data" / "zoo" / "ppo.yml"
    plan = resolve_plan(plan_job({"preset": str(zoo), "rl.training.env": "CartPole-v1"}, INSTALLED), INSTALLED)
    assert plan.choice.preset is not None and plan.choice.preset.zoo and plan.spec is not None
    assert calls == ["yaml"]
    assert not load_preset(DEFAULT_PRESET).zoo


def test_a_launcher_scripts_job_plans_once_before_its_set_up(
    reads: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A launcher script's job is planned once, from the script's experiment with the job's ``rl.*`` on top, before
    the script's environment is built (which imports RLlib while the plan's backend starts): the job reads that plan,
    choosing no backend again."""
    import gymnasium
    from ray.tune.registry import register_env

    from sagemaker_rl import ray_launcher

    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.lr": 0.002})
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tree.base))
    monkeypatch.delenv("SM_HPS", raising=False)
    # A launcher has no backend setting (an experiment names only its algorithm): the counting one comes first.
    first = Plugins(backends=(CountingBackend(), *INSTALLED.backends), families=INSTALLED.families)
    monkeypatch.setattr(ray_launcher, "INSTALLED", first)
    built: list[str] = []  # what had been read when the script's env was first built
    check = ray_launcher.check_user_env
    monkeypatch.setattr(ray_launcher, "check_user_env", lambda *a: built.append(",".join(reads)) or check(*a))

    class Launcher(ray_launcher.SageMakerRayLauncher):
        def register_env_creator(self) -> None:
            register_env("plan_cartpole", lambda config: gymnasium.make("CartPole-v1"))

        def get_experiment_config(self) -> dict[str, Any]:
            return {"training": {"env": "plan_cartpole", "run": "PPO", "stop": {"training_iteration": 2}}}

    assert Launcher().launch() == 0
    assert sorted(reads) == ["backend_for", "load_preset", "preset_for_job"]
    assert built == ["preset_for_job,load_preset,backend_for"]  # after the plan, while its backend starts
    config = (tree.base / MODEL_DIR / CONFIG_YAML).read_text()
    assert "lr: 0.002" in config and "env: sagemaker_rl/plan_cartpole" in config
    assert json.loads((tree.base / MODEL_DIR / "metadata.json").read_text())["framework"] == "counting"
