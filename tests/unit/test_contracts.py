"""The plug-in contracts enforce themselves: every installed backend and family is an instance of its contract's
abstract base class with every abstract method implemented, a plug-in that forgets a required method cannot be made
(``TypeError`` naming it), and the backend a job trains with is chosen as documented (``rl.training.backend``, else
the first installed backend that trains the algorithm)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any, Mapping

import pytest

from runtime.config.spec import TrainingSpec
from runtime.contracts import (
    BackendFactory,
    ConfigValidator,
    Family,
    TrainingHooks,
    TrainingSession,
)
from runtime.errors import UserError
from runtime.plugins import INSTALLED


def _unimplemented(cls: type, contract: type) -> list[str]:
    """The abstract methods of ``contract`` that ``cls`` leaves abstract."""
    return sorted(
        name for name in contract.__abstractmethods__ if getattr(getattr(cls, name), "__isabstractmethod__", False)
    )


def _returned_class(method: Any) -> type:
    return typing.get_type_hints(method)["return"]


@pytest.mark.parametrize("backend", INSTALLED.backends, ids=lambda backend: backend.name)
def test_every_installed_backend_keeps_the_backend_contract(backend: BackendFactory) -> None:
    assert isinstance(backend, BackendFactory)
    assert not _unimplemented(type(backend), BackendFactory)
    assert backend.name and backend.algorithms and all(backend.claims(name) for name in backend.algorithms)
    session = _returned_class(type(backend).create)
    assert issubclass(session, TrainingSession) and not _unimplemented(session, TrainingSession)
    assert isinstance(backend.validator(), ConfigValidator)
    assert not _unimplemented(type(backend.validator()), ConfigValidator)


@pytest.mark.parametrize("family", INSTALLED.families, ids=lambda family: family.name)
def test_every_installed_family_keeps_the_family_contract(family: Family) -> None:
    assert isinstance(family, Family)
    assert not _unimplemented(type(family), Family)
    assert family.name and family.backends
    assert set(family.backends) <= {backend.name for backend in INSTALLED.backends}
    assert issubclass(_returned_class(type(family).training_hooks), TrainingHooks)


def test_the_installed_backends_have_distinct_names() -> None:
    names = [backend.name for backend in INSTALLED.backends]
    assert len(names) == len(set(names))


class _Forgetful(BackendFactory):
    """A backend that forgets ``create``."""

    name = "forgetful"
    algorithms = ("PPO",)

    def validator(self) -> ConfigValidator:
        raise AssertionError("never called")

    def serving_model(self, model_dir: Path) -> Any:
        raise AssertionError("never called")

    def load_actor(self, model_dir: Path, metadata: Mapping[str, Any]) -> Any:
        raise AssertionError("never called")


def test_a_backend_that_forgets_a_method_cannot_be_made() -> None:
    with pytest.raises(TypeError, match="create"):
        _Forgetful()


def test_a_session_family_or_validator_that_forgets_a_method_cannot_be_made() -> None:
    class NoStep(TrainingSession):
        def describe(self) -> str:
            return ""

        def restore(self, checkpoint: Path) -> None: ...
        def save(self, folder: Path) -> None: ...
        def finish(self) -> Any: ...
        def serving_model(self, model_dir: Path) -> Any: ...
        def close(self) -> None: ...

    class NoEvaluate(Family):
        def claims(self, env_id: str) -> bool:
            return False

        def rewrite_hyperparameters(self, preset: Any, given: Mapping[str, Any]) -> Any: ...
        def training_hooks(self, job: Any, spec: Any) -> TrainingHooks:
            return TrainingHooks()

    class NoCheck(ConfigValidator):
        def translate(self, algorithm: str, config: Mapping[str, Any]) -> Any: ...
        def sizes_env_runners(self, algorithm: str) -> bool:
            return False

    for forgetful, method in ((NoStep, "step"), (NoEvaluate, "evaluate"), (NoCheck, "check")):
        with pytest.raises(TypeError, match=method):
            forgetful()


# ----- which backend trains ------------------------------------------------------------------------------------
RLLIB, D3RLPY = INSTALLED.backend_named("rllib"), INSTALLED.backend_named("d3rlpy")


def test_the_algorithm_picks_the_default_backend() -> None:
    assert INSTALLED.backend_for("PPO") is RLLIB and INSTALLED.backend_for("ppo") is RLLIB
    assert INSTALLED.backend_for("DiscreteBCQ") is D3RLPY and INSTALLED.backend_for("DDQN_BCQ") is D3RLPY
    assert INSTALLED.backend_for("CQL") is D3RLPY  # both train it: the first installed is the default


def test_cql_from_either_library_when_named() -> None:
    assert INSTALLED.backend_for("CQL", "rllib") is RLLIB
    assert INSTALLED.backend_for("CQL", "d3rlpy") is D3RLPY
    assert INSTALLED.backend_for("CQL", "RLlib") is RLLIB


def test_an_unknown_backend_or_algorithm_is_a_user_error_naming_the_choices() -> None:
    with pytest.raises(
        UserError,
        match=r"Unknown backend 'rl.training.backend=rlib'. Did you mean 'rllib'\? "
        r".*d3rlpy: ",
    ):
        INSTALLED.backend_for("PPO", "rlib")
    with pytest.raises(
        UserError,
        match=r"d3rlpy \(rl.training.backend\) does not train 'PPO': d3rlpy trains "
        r"DiscreteBCQ.*; PPO trains with rllib",
    ):
        INSTALLED.backend_for("PPO", "d3rlpy")
    with pytest.raises(UserError, match=r"Unknown algorithm 'PPOO'. Did you mean 'PPO'\? .*rllib: PPO"):
        INSTALLED.backend_for("PPOO")


def test_the_rllib_backend_names_the_algorithms_rllib_has() -> None:
    from ray.rllib.algorithms.registry import ALGORITHMS  # heavy: Ray and RLlib (~4 s)

    assert sorted(RLLIB.algorithms) == sorted(ALGORITHMS)


def _spec(env: str, algorithm: str, backend: str | None = None) -> TrainingSpec:
    return TrainingSpec(
        preset="p",
        env=env,
        algorithm=algorithm,
        config={},
        env_config={},
        stop={},
        checkpoint_frequency=1,
        checkpoint_keep=1,
        backend=backend,
    )


def test_a_family_refuses_a_backend_it_does_not_work_with() -> None:
    assert INSTALLED.training_backend(_spec("DeepRacer-v0", "PPO")) is RLLIB
    with pytest.raises(
        UserError,
        match=r"DeepRacer-v0 \(deepracer\) trains only with the backend rllib; this job's "
        r"CQL trains with d3rlpy",
    ):
        INSTALLED.training_backend(_spec("DeepRacer-v0", "CQL"))


def test_cql_resolves_with_the_named_backends_own_check() -> None:
    from runtime.job.setup import resolve_spec

    given = {"preset": "cartpole-ppo", "rl.training.env": "Pendulum-v1", "rl.training.run": "CQL"}
    rllib = resolve_spec(
        {**given, "rl.training.backend": "rllib", "rl.training.config.bc_iters": 100}, INSTALLED, num_cpus=2
    )
    assert (rllib.backend, INSTALLED.training_backend(rllib).name, rllib.config["bc_iters"]) == ("rllib", "rllib", 100)
    with pytest.raises(UserError, match="bc_iters"):  # an RLlib CQL key d3rlpy's CQL does not have
        resolve_spec({**given, "rl.training.config.bc_iters": 100}, INSTALLED, num_cpus=2)


def test_the_quick_check_names_a_wrong_backend_before_any_library_loads() -> None:
    code = textwrap.dedent("""
        import sys
        from types import SimpleNamespace
        from runtime.errors import UserError
        from runtime.plugins import INSTALLED
        from runtime.job.plan import plan_job
        from runtime.train.job import _quick_check
        given = {"preset": "cartpole-ppo", "rl.training.backend": "d3rlpy"}
        try:
            _quick_check(SimpleNamespace(hyperparameters=given, overrides=given), plan_job(given, INSTALLED))
        except UserError as exc:
            assert "does not train 'PPO'" in str(exc), exc
        else:
            raise AssertionError("no UserError")
        print(sorted({m.split(".")[0] for m in sys.modules} & {"ray", "d3rlpy", "torch"}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the quick check imported {result.stdout.strip()}"
