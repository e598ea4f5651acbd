"""The SageMaker RL Coach examples' own ``evaluate-coach.py``, done by rlrt (``python -m sagemaker_rl.coach_evaluate``,
run by the container instead of the script: runtime/job/script_mode.py).

The stock script restores a Coach TensorFlow checkpoint, which rlrt cannot; rlrt's evaluator plays the model in the
``checkpoint`` (or ``model``) channel with the same hyperparameters (``evaluate_steps``) and lines (``Testing>``).
An example whose preset trains an environment of its own (``level="knapsack_env:KnapSackMediumEnv"``, the
Mountain Car example's ``patient_envs``) needs that environment to play the model: the source dir is fetched into the
job's code folder as sagemaker-training would, and the preset's level registered under the id the training job gave
it (``sagemaker_rl/knapsack_env.KnapSackMediumEnv``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sagemaker_training import files, params

from runtime.errors import run_job
from runtime.evaluate.evaluator import run_evaluation_job
from runtime.job.environment import load_environment
from runtime.log_lines import configure_logging
from runtime.names import CODE_DIR_IN_TREE
from runtime.plugins import INSTALLED
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher

EVALUATE_HINT = "evaluate-offline"


class _SourceDirLauncher(SageMakerCoachPresetLauncher):
    """The stock script's launcher: its source dir is the job's code folder; its preset, ``RLCOACH_PRESET``."""

    def __init__(self, source_dir: Path) -> None:
        super().__init__()
        self.source_dir = source_dir

    def path_of_main_launcher(self) -> str:
        return str(self.source_dir)


def main() -> int:
    """Fetch the source dir, register its preset's own environment, evaluate; returns the exit code."""
    configure_logging()

    def prepare() -> None:
        env = load_environment()
        submit = env.hyperparameters.get(params.SUBMIT_DIR_PARAM)
        code = env.base_dir / CODE_DIR_IN_TREE
        if isinstance(submit, str) and submit:
            files.download_and_extract(submit, str(code))  # as sagemaker-training fetches it for a script
        if str(code) not in sys.path:
            sys.path.insert(0, str(code))  # the preset's level="module:Class" imports from source_dir
        if env.hyperparameters.get("RLCOACH_PRESET"):
            _SourceDirLauncher(code).register_preset_env()

    code = run_job(prepare)
    return code or run_evaluation_job(None, {}, None, plugins=INSTALLED, framework="d3rlpy", hint=EVALUATE_HINT)


if __name__ == "__main__":
    sys.exit(main())
