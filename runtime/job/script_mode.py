"""Before a script-mode job (``sagemaker_program``) is handed to sagemaker-training: refuse an uploaded copy of
SageMaker RL's ``sagemaker_rl`` package, and make rlrt's compatibility modules (``roboschool``, ``gym_unity``,
``rl_coach``) importable by the user's script and its Ray workers (only those whose real module is absent).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from sagemaker_training import params

from runtime.errors import UserError
from runtime.job.removed_apis import imports_any, read_source_dir, refuse_removed_apis, removed_apis_in
from runtime.names import INPUT_DATA_CONFIG_JSON
from sagemaker_rl.compat import missing_folders, pythonpath_with

PACKAGE = "sagemaker_rl"


def uploaded_package_files(files: Mapping[str, str]) -> list[str]:
    """The files of a ``sagemaker_rl`` package at the root of a source dir (:func:`source_files`)."""
    return sorted(name for name in files if name.startswith(PACKAGE + "/"))


def source_files(hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    """The Python files of the job's local source dir (``sagemaker_submit_directory``), read once for every check
    below; {} without one, or for an S3 one (downloaded later by sagemaker-training)."""
    submit = hyperparameters.get(params.SUBMIT_DIR_PARAM)
    return read_source_dir(submit) if isinstance(submit, str) and submit else {}


def refuse_uploaded_sagemaker_rl(hyperparameters: Mapping[str, Any], files: Mapping[str, str]) -> None:
    """A :class:`UserError` when the source dir carries its own ``sagemaker_rl`` (the estimator's
    ``dependencies=["common/sagemaker_rl"]``): the script would import it instead of rlrt's, and SageMaker RL's copy
    is written for Ray 0.8 - 1.x (it imports ``ray.rllib.agents``, which Ray 2.x removed)."""
    package = uploaded_package_files(files)
    if package:
        raise UserError(
            f"The source dir {hyperparameters.get(params.SUBMIT_DIR_PARAM)} holds its own copy of the sagemaker_rl "
            f"package ({', '.join(package[:4])}{', ...' if len(package) > 4 else ''}), which your script would "
            "import instead of rlrt's. SageMaker RL's "
            "copy is written for Ray 0.8 - 1.x (it imports ray.rllib.agents, gone in Ray 2.x). Drop "
            'dependencies=["common/sagemaker_rl"] from the estimator: rlrt ships sagemaker_rl '
            "(see docs/MIGRATING.md)."
        )


STOCK_EVALUATION: Mapping[str, str] = MappingProxyType(
    {"evaluate-ray.py": "evaluate", "evaluate-unity.py": "evaluate", "evaluate-coach.py": "evaluate-offline"}
)
"""The SageMaker RL examples' evaluation scripts (the notebooks' ``entry_point``) -> the rlrt command that does their
work (the seeds' ``Episode reward:`` / ``Testing>`` lines, ``evaluation.json``; docs/NOTEBOOKS.md)."""
GONE_FOR_EVALUATION = ("rl_coach",)
"""Modules a stock evaluation script imports for an engine rlrt's image does not have (Intel RL Coach: rlrt's
``rl_coach`` holds Coach's parameter classes only)."""


def stock_evaluation(hyperparameters: Mapping[str, Any], files: Mapping[str, str]) -> str | None:
    """The rlrt command to run instead of the job's entry point when it is one of the SageMaker RL examples' own
    evaluation scripts written for what rlrt does not have (Ray 1.x's ``ray.rllib.agents``, Coach): the stock
    ``evaluate-ray.py`` restores an RLlib 1.x agent from ``params.json`` and cannot run on Ray 2.x, while rlrt's
    evaluator plays the model with the same hyperparameters and prints the same lines. None: run the script."""
    program = str(hyperparameters.get(params.USER_PROGRAM_PARAM) or "")
    command = STOCK_EVALUATION.get(Path(program).name)
    if command is not None and (removed_apis_in(files, program) or imports_any(files, program, GONE_FOR_EVALUATION)):
        return command
    return None


def prepare_script_mode(hyperparameters: Mapping[str, Any], files: Mapping[str, str]) -> None:
    """Checks and environment for a script-mode job, before the handover to sagemaker-training (``files``: its
    source dir, :func:`source_files`)."""
    refuse_uploaded_sagemaker_rl(hyperparameters, files)
    program = hyperparameters.get(params.USER_PROGRAM_PARAM)
    if isinstance(program, str) and program:
        refuse_removed_apis(str(hyperparameters.get(params.SUBMIT_DIR_PARAM)), files, program)
    folders = missing_folders()
    if folders:
        os.environ["PYTHONPATH"] = pythonpath_with(folders, os.environ.get("PYTHONPATH"))


def complete_input_data_config(config_dir: Path, channels: tuple[str, ...]) -> None:
    """Write ``inputdataconfig.json`` (the ``channels``, each in File mode) where a hand-made tree lacks it:
    sagemaker-training cannot start a script without it (SageMaker always writes one; ``docker run`` trees laid out
    as docs/SAGEMAKER.md shows need not)."""
    path = config_dir / INPUT_DATA_CONFIG_JSON
    if path.exists():
        return
    config = {
        name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
        for name in channels
    }
    try:
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"{path} is missing and cannot be written ({exc.strerror}): sagemaker-training needs it to "
            "run the script. Add it to the tree (JSON: one entry per channel, {} for none)."
        ) from exc
    print(
        f"rlrt: wrote {path} ({', '.join(channels) or 'no channels'}): sagemaker-training needs it and this tree "
        "had none",
        flush=True,
    )
