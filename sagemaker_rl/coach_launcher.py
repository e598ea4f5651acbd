"""``SageMakerCoachPresetLauncher``: the base class of SageMaker RL's Coach scripts (``train-coach.py`` /
``evaluate-coach.py`` of the Coach examples). Coach (Intel RL Coach, TensorFlow 1) is gone; its preset is trained by
rlrt's own job.

The preset is named by ``RLCOACH_PRESET`` or the script's ``default_preset_name()``. A preset file of that name in
source_dir (next to the script) is the job, as in SageMaker RL: it is loaded (rlrt's ``rl_coach`` parameter package
builds its ``graph_manager``), the job's hyperparameters go through the script's ``map_hyperparameter`` /
``apply_hyperparameter`` onto the graph manager (``rl.a.b.c`` and ``rl.name:TrainingSteps``), and
:mod:`sagemaker_rl.coach_translate` turns it into one rlrt training job, which :mod:`sagemaker_rl.coach_run` trains
(``run_training_job``) and follows with an evaluation of the exported policy (Coach's ``Testing>`` lines); a
``level="module:Class"`` is registered by :mod:`sagemaker_rl.coach_levels`. ``rlrt train --preset src/preset-x.py``
trains a preset file the same way (:mod:`sagemaker_rl.coach_preset_file`). A Batch RL preset trains d3rlpy's
DiscreteBCQ on its ``CsvDataset`` (:mod:`sagemaker_rl.coach_batch`), in the environment of its ``-env`` variant when
it has none. Only when no such file exists does the name select rlrt's own preset for the problem
(``preset-cartpole-ddqnbcq`` -> ``cartpole-bcq``: the presets' aliases). A preset file rlrt cannot translate is
refused, naming what, and the rlrt preset for the problem when there is one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

from runtime.config import hyperparameters as hp
from runtime.config.presets import load_preset
from runtime.errors import UserError, run_job
from runtime.evaluate.evaluator import run_evaluation_job
from runtime.job.environment import load_environment
from runtime.log_lines import configure_logging
from runtime.plugins import INSTALLED
from runtime.train.job import run_training_job
from sagemaker_rl import compat
from sagemaker_rl import coach_batch
from sagemaker_rl.coach_imports import missing_coach_module
from sagemaker_rl.coach_levels import register_level
from sagemaker_rl.coach_run import train_coach_job
from sagemaker_rl.coach_translate import CoachJob, translate
from sagemaker_rl.coach_values import hyperparameter_origins
from sagemaker_rl.compat.coach_steps import STEP_TYPES
from sagemaker_rl.configuration_list import ConfigurationList
from sagemaker_rl.ray_launcher import job_hyperparameters, job_root

PRESET_HYPERPARAMETER = "RLCOACH_PRESET"
LAUNCHER_ARGUMENTS = (PRESET_HYPERPARAMETER, hp.SAVE_MODEL, "num_workers")
"""The hyperparameters SageMaker RL's launcher read itself (its argument parser); every other one went to
``map_hyperparameter``."""


MODEL_SAVERS = ("_save_tf_model", "_save_onnx_model")
"""SageMaker RL's model-saving methods (TensorFlow 1 / MXNet's ONNX), which scripts override (the Batch RL example);
rlrt's job writes model/ itself and calls neither."""


class CoachConfigurationList(ConfigurationList):
    """SageMaker RL's ``rl.*`` hyperparameters for a Coach graph manager; ``name:Kind`` may name Coach's step kinds
    (``Frames``, ``EnvironmentSteps``, ``EnvironmentEpisodes``, ``TrainingSteps``, ``Time``: the classes rlrt's
    ``rl_coach.core_types`` holds)."""

    ALLOWED_TYPES = dict(STEP_TYPES)


class SageMakerCoachPresetLauncher:
    """Sub-classes implement :meth:`default_preset_name`; ``MyLauncher.train_main()`` trains it with rlrt."""

    def __init__(self) -> None:
        self.hyperparameters = CoachConfigurationList()
        self.rlrt_hyperparameters: dict[str, Any] = {}
        """rlrt's own top-level hyperparameters (``seed``, ...) the job gave, kept for rlrt's job."""

    def default_preset_name(self) -> str:
        """Sub-classes return the name of their preset (e.g. ``preset-cartpole-ddqnbcq``)."""
        default = getattr(self, "DEFAULT_PRESET", None)
        if default:
            return str(default)
        raise NotImplementedError("Sub-classes must specify the name of the default preset for this RL problem.")

    def map_hyperparameter(self, name: str, value: Any) -> None:
        """Scripts override it for shortcut names; the default sends ``rl.*`` to the graph manager
        (:meth:`apply_hyperparameter`) and keeps rlrt's own top-level names (``seed``, ...) for rlrt's job."""
        if name.startswith("rl."):
            self.apply_hyperparameter(name, value)
        elif name in hp.TOP_LEVEL_KEYS:
            self.rlrt_hyperparameters[name] = value
        else:
            raise UserError(
                f"Unknown hyperparameter {name}: a Coach job takes rl.<path into the graph manager> "
                "(rl.agent_params.algorithm.discount, rl.improve_steps:TrainingSteps), the names its "
                f"script's map_hyperparameter() maps, or rlrt's {', '.join(sorted(hp.TOP_LEVEL_KEYS))}."
            )

    def apply_hyperparameter(self, name: str, value: Any) -> None:
        """Keep ``name = value`` to be applied to the graph manager once the preset is loaded."""
        print(f"rlrt: applying RL hyperparameter {name}={value}", flush=True)  # SageMaker RL's line
        self.hyperparameters.store(name, value)

    def path_of_main_launcher(self) -> str:
        """The folder of the script that started this process (where Coach looked for preset files)."""
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
        return os.path.dirname(os.path.abspath(path)) if path else os.getcwd()

    def preset_name(self) -> str:
        """``RLCOACH_PRESET``, else :meth:`default_preset_name`."""
        name = job_hyperparameters().get(PRESET_HYPERPARAMETER)
        if not name:
            try:
                name = self.default_preset_name()
            except NotImplementedError as exc:
                raise UserError(
                    f"{type(self).__name__} does not implement default_preset_name() and the job sets "
                    f"no {PRESET_HYPERPARAMETER}: name the preset to train."
                ) from exc
        return str(name)

    def preset_from_name(self, preset_name: str) -> Any:
        """The ``graph_manager`` of ``<preset_name>.py`` next to the script (Coach's way of loading a preset)."""
        path = Path(self.path_of_main_launcher()) / f"{preset_name}.py"
        print(f"rlrt: loading the Coach preset {preset_name} from {path.parent}", flush=True)
        spec = importlib.util.spec_from_file_location(re.sub(r"\W", "_", preset_name), path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except UserError:
            raise
        except Exception as exc:  # the user's preset file failed: its error, named
            missing = missing_coach_module(exc, path) if isinstance(exc, ImportError) else None
            raise (missing or UserError(f"{path.name}: {type(exc).__name__}: {exc}")) from exc
        if not hasattr(module, "graph_manager"):
            raise UserError(f"{path.name} defines no graph_manager")
        return module.graph_manager

    def coach_job(self, preset_file: Path) -> CoachJob:
        """The job the preset file in source_dir describes, the job's hyperparameters applied to it."""
        compat.install()
        graph_manager = self.preset_from_name(preset_file.stem)
        if not isinstance(getattr(self, "hyperparameters", None), ConfigurationList):
            self.hyperparameters = CoachConfigurationList()
        self.rlrt_hyperparameters = getattr(self, "rlrt_hyperparameters", {})
        given = job_hyperparameters()
        for name, value in given.items():
            if (
                name not in LAUNCHER_ARGUMENTS
                and not name.startswith(hp.SAGEMAKER_PREFIX)
                and name != hp.TUNING_OBJECTIVE
            ):
                self.map_hyperparameter(name, value)
        origins = hyperparameter_origins(self.hyperparameters.hp_dict)
        try:
            self.hyperparameters.apply_subset(graph_manager, "rl.")
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            failed = next((k for k in self.hyperparameters.hp_dict if k.startswith("rl.")), "?")
            raise UserError(
                f"the hyperparameter {failed} names nothing the preset's graph manager holds "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        job = translate(graph_manager, origins)
        if job.user_env:
            env_config = job.hyperparameters.get(hp.CONFIG_PREFIX + "env_config") or {}
            job.env = job.hyperparameters[hp.ENV] = register_level(job.env, env_config)
        if job.algorithm == coach_batch.ALGORITHM:
            self._batch_rl_job(job, preset_file)
        if type(self).get_config_args is not SageMakerCoachPresetLauncher.get_config_args:
            job.notes.append(
                f"{type(self).__name__}.get_config_args() not called: it reads Coach's command line, "
                "which rlrt does not have (map_hyperparameter() is called for every hyperparameter)"
            )
        save = given.get(hp.SAVE_MODEL)
        if str(save) in ("None", "0", "False", "false"):
            given_as = "0 (the launcher's default)" if save is None else str(save)
            job.notes.append(
                f"save_model: {given_as} -> model/ written all the same: SageMaker RL's Coach "
                "launcher then saved no model into model/ (its result was the checkpoint in "
                "output/data/checkpoint, which rlrt writes too); rlrt's exit 0 promises a model in "
                "model/ that loads and serves"
            )
        for method in MODEL_SAVERS:
            if hasattr(self, method):
                job.notes.append(
                    f"{type(self).__name__}.{method}() not called: rlrt exports the model itself "
                    "(model/: policy.onnx, TorchScript, config.json), so what it imports "
                    "(TensorFlow, MXNet) is never needed"
                )
        workers = given.get("num_workers")
        if workers not in (None, 1, "1"):
            job.notes.append(f"num_workers: {workers} not translated: rlrt sizes its env runners from the instance")
        return job

    def _batch_rl_job(self, job: CoachJob, preset_file: Path) -> None:
        """A Batch RL preset's environment (its own, else its ``-env`` variant's: the notebook evaluates the policy
        with ``<name>-env.py``) and data (:func:`sagemaker_rl.coach_batch.find_dataset`)."""
        if not job.env:
            variant = preset_file.with_name(f"{preset_file.stem}-env.py")
            if not variant.is_file():
                raise UserError(
                    f"env_params is None and source_dir has no {variant.name}: rlrt needs the "
                    "environment the data came from, to check the data against it and to evaluate the "
                    f"policy. Add {variant.name} (the same preset with GymVectorEnvironment(level=...)), "
                    "as the Batch RL example has"
                )
            level = getattr(self.preset_from_name(variant.stem).env_params, "level", None)
            if not isinstance(level, str) or not level or ":" in level:
                raise UserError(f"{variant.name}: env_params.level is {level!r}: name a gym id (level='CartPole-v0')")
            job.env = job.hyperparameters[hp.ENV] = level
            job.notes.append(
                f"env_params: None -> env {level} (the level of {variant.name}, the preset that evaluates this one)"
            )
        coach_batch.find_dataset(job, load_environment(job_root()), preset_file.parent)
        try:
            tuned = load_preset(preset_file.stem).name
        except UserError:
            return
        job.notes.append(
            f"Coach's settings are translated as they are; rlrt's preset '{tuned}' is tuned for this "
            f"problem with d3rlpy (delete {preset_file.name} from source_dir to train it instead)"
        )

    def get_config_args(self, parser: Any) -> Any:
        """Coach's command-line arguments: rlrt has no Coach command line, so it never calls this (kept so that a
        script's override imports and is named in a line)."""
        return parser

    def launch(self) -> int:
        """Train the preset file in source_dir (else rlrt's preset of that name); returns the exit code."""
        configure_logging(others=False)  # the script owns its process's logging; rlrt's lines read rlrt: ...
        chosen: dict[str, Any] = {}

        def prepare() -> None:
            name = self.preset_name()
            preset_file = Path(self.path_of_main_launcher()) / f"{name}.py"
            if not preset_file.is_file():
                chosen["rlrt"] = load_preset(name).name
                print(
                    f"rlrt: no Coach preset file {preset_file.name} in source_dir: training rlrt's preset "
                    f"'{chosen['rlrt']}'",
                    flush=True,
                )
                return
            try:
                chosen["coach"] = job = self.coach_job(preset_file)
            except UserError as exc:
                problem = str(exc).rstrip(".")
                raise UserError(
                    f"The Coach preset file {preset_file.name} in source_dir cannot run: {problem}. "
                    f"{_rlrt_hint(name)}See docs/MIGRATING.md."
                ) from exc
            print(
                f"rlrt: training the Coach preset file {preset_file.name} from source_dir ({job.algorithm} on "
                f"{job.env})",
                flush=True,
            )
            for note in job.notes:
                print(f"rlrt: {preset_file.stem}: {note}", flush=True)

        code = run_job(prepare)
        if code or "rlrt" in chosen:
            return code or run_training_job(default_preset=chosen["rlrt"], plugins=INSTALLED)
        return train_coach_job(
            chosen["coach"], self.preset_name(), self.rlrt_hyperparameters, Path(self.path_of_main_launcher())
        )

    @classmethod
    def train_main(cls) -> None:
        """Entry point of ``train-coach.py``."""
        code = cls().launch()
        if code:
            raise SystemExit(code)

    def register_preset_env(self) -> None:
        """Register the environment of the preset file in source_dir when it is the script's own (``level=
        "module:Class"``), under the id its training job gave it, for the evaluator to play the model in."""
        preset_file = Path(self.path_of_main_launcher()) / f"{self.preset_name()}.py"
        if not preset_file.is_file():
            return
        compat.install()
        env_params = getattr(self.preset_from_name(preset_file.stem), "env_params", None)
        level = getattr(env_params, "level", None)
        if isinstance(level, str) and ":" in level:
            register_level(level, dict(getattr(env_params, "additional_simulator_parameters", None) or {}))

    @classmethod
    def evaluate_main(cls) -> None:
        """Entry point of ``evaluate-coach.py``: rlrt's offline evaluation (``rlrt evaluate-offline``) of the model
        in the ``model`` (or ``checkpoint``) channel, in the preset's own environment when it has one."""
        configure_logging()
        code = run_job(cls().register_preset_env) or run_evaluation_job(
            None, {}, None, plugins=INSTALLED, framework="d3rlpy", hint="evaluate-offline"
        )
        if code:
            raise SystemExit(code)


def _rlrt_hint(name: str) -> str:
    """The rlrt preset for the problem, when one is named ``name``."""
    try:
        preset = load_preset(name).name
    except UserError:
        return ""
    return (
        f"rlrt's preset '{preset}' trains this problem: delete {name}.py from source_dir (the name {name} then "
        f"selects it), or set {PRESET_HYPERPARAMETER} to '{preset}'. "
    )


SageMakerCoachLauncher = SageMakerCoachPresetLauncher
"""SageMaker RL's older name for the same base class."""
