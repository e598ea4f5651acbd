"""``SageMakerCoachPresetLauncher``: the base class of SageMaker RL's Coach scripts (the Batch RL and DeepRacer
notebooks' ``train-coach.py`` / ``evaluate-coach.py``). Coach (Intel RL Coach, TensorFlow 1) is gone; the script's
preset name (``RLCOACH_PRESET`` or ``default_preset_name()``) is mapped onto the rlrt preset that trains the same
problem (``preset-cartpole-ddqnbcq`` -> ``cartpole-bcq``, ...: the presets' aliases), and the job runs rlrt's own
training (``train_main``) or evaluation (``evaluate_main``). A Coach preset ``.py`` file next to the script cannot
run: it is refused with the rlrt preset to use instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from runtime.cli import main
from runtime.config.presets import load_preset
from runtime.errors import UserError, run_job
from runtime.log_lines import configure_logging
from runtime.plugins import INSTALLED
from runtime.train.job import run_training_job
from sagemaker_rl.compat.coach_steps import STEP_TYPES
from sagemaker_rl.configuration_list import ConfigurationList
from sagemaker_rl.ray_launcher import _job_hyperparameters

PRESET_HYPERPARAMETER = "RLCOACH_PRESET"


class CoachConfigurationList(ConfigurationList):
    """SageMaker RL's ``rl.*`` hyperparameters for a Coach graph manager; ``name:Kind`` may name Coach's step kinds
    (``Frames``, ``EnvironmentSteps``, ``EnvironmentEpisodes``, ``TrainingSteps``, ``Time``: the classes rlrt's
    ``rl_coach.core_types`` holds)."""

    ALLOWED_TYPES = dict(STEP_TYPES)


class SageMakerCoachPresetLauncher:
    """Sub-classes implement :meth:`default_preset_name`; ``MyLauncher.train_main()`` trains it with rlrt."""

    def default_preset_name(self) -> str:
        """Sub-classes return the name of their preset (e.g. ``preset-cartpole-ddqnbcq``)."""
        default = getattr(self, "DEFAULT_PRESET", None)
        if default:
            return str(default)
        raise NotImplementedError("Sub-classes must specify the name of the default preset for this RL problem.")

    def map_hyperparameter(self, name: str, value: Any) -> None:
        """Kept for scripts that override it; rlrt reads hyperparameters with its own grammar (docs/MIGRATING.md)."""

    def path_of_main_launcher(self) -> str:
        """The folder of the script that started this process (where Coach looked for preset files)."""
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
        return os.path.dirname(os.path.abspath(path)) if path else os.getcwd()

    def rlrt_preset(self) -> str:
        """The rlrt preset for this job's Coach preset name; a :class:`UserError` for a Coach preset file."""
        name = _job_hyperparameters().get(PRESET_HYPERPARAMETER)
        if not name:
            try:
                name = self.default_preset_name()
            except NotImplementedError as exc:
                raise UserError(f"{type(self).__name__} does not implement default_preset_name() and the job sets "
                                f"no {PRESET_HYPERPARAMETER}: name the rlrt preset to train (`rlrt presets`).") from exc
        name = str(name)
        preset_file = Path(self.path_of_main_launcher()) / f"{name}.py"
        if preset_file.is_file():
            try:
                hint = f"rlrt's preset '{load_preset(name).name}' trains this problem: delete " \
                       f"{preset_file.name} from source_dir (the name {name} then selects it), or set " \
                       f"{PRESET_HYPERPARAMETER} to '{load_preset(name).name}'"
            except UserError as exc:
                hint = f"no rlrt preset is named '{name}'. {exc}"
            raise UserError(f"The Coach preset file {preset_file.name} in source_dir cannot run: rlrt does not run "
                            f"Coach (Intel RL Coach, TensorFlow 1). {hint}. See docs/MIGRATING.md.")
        return load_preset(name).name

    def launch(self) -> int:
        """Train the mapped rlrt preset with rlrt's training job; returns the exit code."""
        configure_logging(others=False)  # the script owns its process's logging; rlrt's lines read rlrt: ...
        chosen: list[str] = []
        code = run_job(lambda: chosen.append(self.rlrt_preset()))
        return code or run_training_job(default_preset=chosen[0], plugins=INSTALLED)

    @classmethod
    def train_main(cls) -> None:
        """Entry point of ``train-coach.py``."""
        code = cls().launch()
        if code:
            raise SystemExit(code)

    @classmethod
    def evaluate_main(cls) -> None:
        """Entry point of ``evaluate-coach.py``: rlrt's offline evaluation (``rlrt evaluate-offline``) of the model
        in the ``model`` (or ``checkpoint``) channel."""
        code = main(["evaluate-offline"])
        if code:
            raise SystemExit(code)


SageMakerCoachLauncher = SageMakerCoachPresetLauncher
"""SageMaker RL's older name for the same base class."""
