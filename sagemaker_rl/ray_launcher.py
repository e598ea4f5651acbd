"""``SageMakerRayLauncher``: the base class of SageMaker RL's Ray scripts (``train-reacher.py``, ``train-unity.py``).

A script subclasses it, implements ``register_env_creator()`` (``ray.tune.registry.register_env(name, creator)``)
and ``get_experiment_config()`` (``{"training": {"env", "run", "stop", "config"}}``), and calls
``MyLauncher().train_main()``. :meth:`SageMakerRayLauncher.launch` then: makes the compatibility modules importable,
calls the script's methods (its overrides honoured), lays the job's ``rl.*`` hyperparameters over the experiment
(:meth:`customize_experiment_config`, as SageMaker RL did), registers the script's env creator as an rlrt
environment, and hands the experiment as ``rl.training.*`` hyperparameters to rlrt's training job
(``runtime.train.job.run_training_job``): the same resolution, driver, metric lines, checkpoints, resume, SIGTERM
handling, exports, multi-host plan and failure file as every rlrt job.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Any

from envs.errors import EnvConfigError, EnvStartError
from runtime.collector import start_up
from runtime.config import hyperparameters as hp
from runtime.contracts import EarlyStart
from runtime.errors import JobInterrupted, UserError, run_job
from runtime.job.environment import flatten_nested, load_environment
from runtime.job.tree import find_base_dir
from runtime.log_lines import configure_logging
from runtime.names import CONFIG_DIR, HYPERPARAMETERS_JSON, MODEL_DIR
from runtime.plugins import INSTALLED
from runtime.job.plan import JobPlan
from runtime.train.job import plan_ahead, run_training_job
from runtime.stop_signals import STOPS
from sagemaker_rl import compat
from sagemaker_rl.experiment import (
    BASE_PRESET,
    apply_rl_hyperparameters,
    experiment_hyperparameters,
    owned_by_rlrt,
    scripts_own_keys,
)
from sagemaker_rl.user_envs import check_user_env, keep_script_source, register_user_env


class Cluster(Enum):
    """SageMaker RL's cluster types (``rl_cluster_type``): a homogeneous job is ``primary``."""

    Primary = "primary"
    Secondary = "secondary"


class SageMakerRayLauncher:
    """Base class of a SageMaker RL Ray script: fill in :meth:`register_env_creator` and
    :meth:`get_experiment_config`, then call :meth:`train_main`."""

    def __init__(self) -> None:
        self.num_cpus = int(os.environ.get("SM_NUM_CPUS") or os.cpu_count() or 1)
        self.num_gpus = int(os.environ.get("SM_NUM_GPUS") or 0)
        self.cluster_type = self._get_cluster_type()
        self.num_instances_secondary_cluster = int(os.environ.get("SM_HP_RL_NUM_INSTANCES_SECONDARY") or 0)
        self.host_name = os.environ.get("SM_CURRENT_HOST", "algo-1")
        resource = json.loads(os.environ.get("SM_RESOURCE_CONFIG") or "{}")
        self.hosts_info = list(resource.get("hosts") or [self.host_name])
        self.is_master_node = self.hosts_info[0] == self.host_name and self.cluster_type == Cluster.Primary
        self.hyperparameters: dict[str, Any] = {}
        self.user_env: str | None = None
        """The name the script's own environment was registered under (its creator), if it registered one."""

    def _get_cluster_type(self) -> Cluster:
        value = os.environ.get("SM_HP_RL_CLUSTER_TYPE", "primary").strip('"')
        return Cluster.Primary if value.lower() == "primary" else Cluster.Secondary

    def register_env_creator(self) -> None:
        """Sub-classes implement this: ``ray.tune.registry.register_env(name, creator)``."""
        raise NotImplementedError("Subclasses should implement this to call ray.tune.registry.register_env")

    def get_experiment_config(self) -> dict[str, Any]:
        """Sub-classes implement this: ``{"training": {"env": ..., "run": ..., "stop": {...}, "config": {...}}}``."""
        raise NotImplementedError("Subclasses must define the experiment config to pass to ray.tune.run_experiments")

    def customize_experiment_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The job's ``rl.*`` hyperparameters applied over the experiment dict (``rl.training.config.lr`` sets
        ``config["training"]["config"]["lr"]``), as SageMaker RL's launcher did."""
        self.hyperparameters = job_hyperparameters()
        return apply_rl_hyperparameters(config, self.hyperparameters)

    def _call(self, method: str) -> Any:
        try:
            return getattr(self, method)()
        except NotImplementedError as exc:
            raise UserError(
                f"{type(self).__name__} does not implement {method}(), which a SageMaker RL launcher must define "
                f"({_WHAT[method]}). {exc}"
            ) from exc
        except (UserError, JobInterrupted):
            raise
        except Exception as exc:  # the script's own code failed: named as such, its traceback kept
            traceback.print_exc()
            raise UserError(
                f"The launcher script's {type(self).__name__}.{method}() raised {type(exc).__name__}: "
                f"{str(exc)[:300]} (its traceback is in the job's log, above)."
            ) from exc

    def _experiment(self) -> dict[str, Any]:
        """What the script's ``get_experiment_config()`` returned, checked to be an experiment dict."""
        experiment = self._call("get_experiment_config")
        where = f"{type(self).__name__}.get_experiment_config()"
        if not isinstance(experiment, dict):
            got = (
                "None (is its return statement missing?)"
                if experiment is None
                else (f"{type(experiment).__name__} {str(experiment)[:100]!r}")
            )
            raise UserError(
                f"The launcher script's {where} returned {got}; it must return a dict: "
                f"{_WHAT['get_experiment_config'][len('return ') :]}."
            )
        if "training" not in experiment and (
            len(experiment) != 1 or not isinstance(next(iter(experiment.values())), dict)
        ):
            raise UserError(
                f"The launcher script's {where} returned a dict without 'training' (its keys: "
                f"{', '.join(map(str, experiment))[:200]}); it must return "
                f"{_WHAT['get_experiment_config'][len('return ') :]}."
            )
        return experiment

    def training_hyperparameters(self) -> dict[str, Any]:
        """The script's experiment as the ``rl.training.*`` hyperparameters rlrt's job trains, its env creator
        registered as an rlrt environment (built once to check it: :meth:`_check_env`)."""
        self._call("register_env_creator")
        experiment = self.customize_experiment_config(self._experiment())
        overrides = experiment_hyperparameters(experiment)
        gym_id = register_user_env(overrides[hp.ENV])
        self.user_env = overrides[hp.ENV] if gym_id is not None else None
        if gym_id is not None:
            overrides[hp.ENV] = gym_id
        return overrides

    def _check_env(self, overrides: dict[str, Any]) -> None:
        """On the first host, build the script's environment once (its creator called as an env runner calls it,
        which imports RLlib): a creator that fails is named before training starts."""
        if self.user_env is None or not self.is_master_node:
            return
        env_config = overrides.get(hp.CONFIG_PREFIX + "env_config") or {}
        try:
            check_user_env(overrides[hp.ENV], env_config if isinstance(env_config, dict) else {})
        except (EnvConfigError, EnvStartError) as exc:
            raise UserError(str(exc)) from exc

    def launch(self) -> int:
        """Train the script's experiment with rlrt's training job; returns the exit code (0, 2 for a user error
        with the reason in ``output/failure``, 143 after SIGTERM)."""
        compat.install()
        configure_logging(others=False)  # the script owns its process's logging; rlrt's lines read rlrt: ...
        prepared: dict[str, Any] = {}
        planned: list[tuple[JobPlan, EarlyStart | None]] = []

        def prepare() -> int:
            prepared.update(self.training_hyperparameters())
            # The job's plan, made once here, starts its Ray (a child process) while the script's env is built once
            # (which imports RLlib, ~2 s): the two overlap, as in a preset job (bench/launcher_vs_preset.py).
            env = load_environment(job_root())
            planned.append(plan_ahead(env, prepared, INSTALLED, BASE_PRESET, owned_by_rlrt))
            self._check_env(prepared)
            own = scripts_own_keys(self.hyperparameters)
            if own:
                print(f"rlrt: hyperparameters for the script itself, not read by rlrt: {', '.join(own)}", flush=True)
            return 0

        try:
            with STOPS.handling():  # SIGTERM/SIGINT from the script's set-up on: one line, exit 143/130
                with start_up():  # registering and checking the script's env imports RLlib (~2 s)
                    code = run_job(prepare)
                if code != 0:
                    return code
                plan, early = planned[0]
                code = run_training_job(
                    overrides=prepared,
                    default_preset=BASE_PRESET,
                    plugins=INSTALLED,
                    owned=owned_by_rlrt,
                    plan=plan,
                    early=early,
                )
        finally:
            started = planned[0][1] if planned else None
            if started is not None:  # the job's session shut it down; else (a job that never trained) stop it here
                started.cancel()
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        if code == 0 and self.user_env and script and self.is_master_node:
            # rlrt evaluate registers the script's own environment again from this copy (ScriptEnvironments).
            keep_script_source(job_root() / MODEL_DIR, Path(script), self.user_env)
        return code

    @classmethod
    def train_main(cls) -> None:
        """Entry point of a script: ``MyLauncher().train_main()`` (or ``MyLauncher.train_main()``); exits with the
        job's exit code when it is not 0, else returns to the script."""
        code = cls().launch()
        if code:
            raise SystemExit(code)


_WHAT = {
    "register_env_creator": "call ray.tune.registry.register_env(name, creator) for the experiment's env",
    "get_experiment_config": "return {'training': {'env': ..., 'run': 'PPO', 'stop': {...}, 'config': {...}}}",
}


def job_hyperparameters() -> dict[str, Any]:
    """The job's hyperparameters (decoded): sagemaker-training's ``SM_HPS``, else the job tree's file."""
    text = os.environ.get("SM_HPS")
    if text:
        return flatten_nested(json.loads(text))
    root = job_root()
    if (root / CONFIG_DIR / HYPERPARAMETERS_JSON).is_file():
        return dict(load_environment(root).hyperparameters)
    return {}


def job_root() -> Path:
    """The job's ``/opt/ml`` tree (``SAGEMAKER_BASE_DIR``, ``/opt/ml``, or a new local one)."""
    return find_base_dir(None, "sagemaker-rl")[0]
