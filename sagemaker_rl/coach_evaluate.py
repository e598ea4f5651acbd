"""The SageMaker RL Coach examples' own ``evaluate-coach.py``, done by rlrt (``python -m sagemaker_rl.coach_evaluate``,
run by the container instead of the script: runtime/job/script_mode.py).

The preset is ``RLCOACH_PRESET``, else what the script's ``default_preset_name()`` returns (read from its source).
The stock script restores a Coach TensorFlow checkpoint, which rlrt cannot; rlrt's evaluator plays the model in the
``checkpoint`` (or ``model``) channel with the same hyperparameters (``evaluate_steps``) and lines (``Testing>``).
An example whose preset trains an environment of its own (``level="knapsack_env:KnapSackMediumEnv"``, the
Mountain Car example's ``patient_envs``) needs that environment to play the model: the source dir is fetched into the
job's code folder as sagemaker-training would, and the preset's level registered under the id the training job gave
it (``sagemaker_rl/knapsack_env.KnapSackMediumEnv``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from sagemaker_training import files, params

from runtime.errors import run_job
from runtime.evaluate.evaluator import run_evaluation_job
from runtime.job.environment import load_environment
from runtime.log_lines import configure_logging
from runtime.names import CODE_DIR_IN_TREE
from runtime.plugins import INSTALLED
from sagemaker_rl.coach_launcher import PRESET_HYPERPARAMETER, SageMakerCoachPresetLauncher

EVALUATE_HINT = "evaluate-offline"


class _SourceDirLauncher(SageMakerCoachPresetLauncher):
    """The stock script's launcher: its source dir is the job's code folder; its preset, ``RLCOACH_PRESET``."""

    def __init__(self, source_dir: Path, preset: str | None) -> None:
        super().__init__()
        self.source_dir = source_dir
        self.preset = preset

    def default_preset_name(self) -> str:
        return self.preset or super().default_preset_name()

    def path_of_main_launcher(self) -> str:
        return str(self.source_dir)


def declared_preset(script: Path) -> str | None:
    """The preset name the script's launcher class returns from ``default_preset_name()`` (``return "preset-..."``),
    read from its source, not run: the stock script imports Coach, which rlrt's image does not have. None when the
    script has no such method, cannot be read, or computes the name."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None  # the evaluation goes on without it; a missing preset is named where it is needed
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "default_preset_name":
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if (
                len(body) == 1
                and isinstance(body[0], ast.Return)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
                and body[0].value.value
            ):
                return body[0].value.value
            print(
                f"rlrt: {script.name}'s default_preset_name() computes its preset name, which rlrt does not run: "
                f"set the {PRESET_HYPERPARAMETER} hyperparameter if the preset trains an environment of its own",
                flush=True,
            )
            return None
    return None


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
        preset = None
        if not env.hyperparameters.get(PRESET_HYPERPARAMETER):
            program = env.hyperparameters.get(params.USER_PROGRAM_PARAM)
            preset = declared_preset(code / program) if isinstance(program, str) and program else None
            if preset is None or not (code / f"{preset}.py").is_file():
                return  # no preset file of that name: the model's own environment is played
            # What the stock script's launcher reads when the job sets no RLCOACH_PRESET (its argparse default).
            print(f"rlrt: the Coach preset {preset} (from {program}'s default_preset_name())", flush=True)
        _SourceDirLauncher(code, preset).register_preset_env()

    code = run_job(prepare)
    return code or run_evaluation_job(None, {}, None, plugins=INSTALLED, framework="d3rlpy", hint=EVALUATE_HINT)


if __name__ == "__main__":
    sys.exit(main())
