"""Before a script-mode job (``sagemaker_program``) is handed to sagemaker-training: refuse an uploaded copy of
SageMaker RL's ``sagemaker_rl`` package, and make rlrt's compatibility modules (``roboschool``, ``gym_unity``)
importable by the user's script and its Ray workers (only those whose real module is absent).
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from sagemaker_training import params

from runtime.errors import UserError
from runtime.job.removed_apis import imports_any, refuse_removed_apis, removed_apis_in
from sagemaker_rl.compat import missing_folders, pythonpath_with

PACKAGE = "sagemaker_rl"


def uploaded_package_files(submit_directory: str) -> list[str]:
    """The files of a ``sagemaker_rl`` package at the root of a local source dir (a folder or ``sourcedir.tar.gz``,
    as a path or ``file://`` URL); an S3 source dir is not inspected here (it is downloaded by sagemaker-training)."""
    location = submit_directory[len("file://"):] if submit_directory.startswith("file://") else submit_directory
    if "://" in location:
        return []
    path = Path(location)
    if path.is_dir():
        return sorted(str(p.relative_to(path)) for p in (path / PACKAGE).rglob("*.py")) if (path / PACKAGE).is_dir() \
            else []
    if path.is_file() and tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            names = [n[2:] if n.startswith("./") else n for n in archive.getnames()]
        return sorted(n for n in names if n.startswith(PACKAGE + "/") and n.endswith(".py"))
    return []


def refuse_uploaded_sagemaker_rl(hyperparameters: Mapping[str, Any]) -> None:
    """A :class:`UserError` when the source dir carries its own ``sagemaker_rl`` (the estimator's
    ``dependencies=["common/sagemaker_rl"]``): the script would import it instead of rlrt's, and SageMaker RL's copy
    is written for Ray 0.8 - 1.x (it imports ``ray.rllib.agents``, which Ray 2.x removed)."""
    submit = hyperparameters.get(params.SUBMIT_DIR_PARAM)
    if not isinstance(submit, str) or not submit:
        return
    files = uploaded_package_files(submit)
    if files:
        raise UserError(
            f"The source dir {submit} holds its own copy of the sagemaker_rl package ({', '.join(files[:4])}"
            f"{', ...' if len(files) > 4 else ''}), which your script would import instead of rlrt's. SageMaker RL's "
            "copy is written for Ray 0.8 - 1.x (it imports ray.rllib.agents, gone in Ray 2.x). Drop "
            "dependencies=[\"common/sagemaker_rl\"] from the estimator: rlrt ships sagemaker_rl "
            "(see docs/MIGRATING.md).")


STOCK_EVALUATION: Mapping[str, str] = MappingProxyType(
    {"evaluate-ray.py": "evaluate", "evaluate-unity.py": "evaluate", "evaluate-coach.py": "evaluate-offline"})
"""The SageMaker RL examples' evaluation scripts (the notebooks' ``entry_point``) -> the rlrt command that does their
work (the seeds' ``Episode reward:`` / ``Testing>`` lines, ``evaluation.json``; docs/NOTEBOOKS.md)."""
GONE_FOR_EVALUATION = ("rl_coach",)
"""Modules a stock evaluation script imports that rlrt's image does not have (Intel RL Coach)."""


def stock_evaluation(hyperparameters: Mapping[str, Any]) -> str | None:
    """The rlrt command to run instead of the job's entry point when it is one of the SageMaker RL examples' own
    evaluation scripts written for what rlrt does not have (Ray 1.x's ``ray.rllib.agents``, Coach): the stock
    ``evaluate-ray.py`` restores an RLlib 1.x agent from ``params.json`` and cannot run on Ray 2.x, while rlrt's
    evaluator plays the model with the same hyperparameters and prints the same lines. None: run the script."""
    program = str(hyperparameters.get(params.USER_PROGRAM_PARAM) or "")
    submit = hyperparameters.get(params.SUBMIT_DIR_PARAM)
    command = STOCK_EVALUATION.get(Path(program).name)
    if command is None or not isinstance(submit, str) or not submit:
        return None
    if removed_apis_in(submit, program) or imports_any(submit, program, GONE_FOR_EVALUATION):
        return command
    return None


def prepare_script_mode(hyperparameters: Mapping[str, Any]) -> None:
    """Checks and environment for a script-mode job, before the handover to sagemaker-training."""
    refuse_uploaded_sagemaker_rl(hyperparameters)
    submit = hyperparameters.get(params.SUBMIT_DIR_PARAM)
    program = hyperparameters.get(params.USER_PROGRAM_PARAM)
    if isinstance(submit, str) and submit and isinstance(program, str) and program:
        refuse_removed_apis(submit, program)
    folders = missing_folders()
    if folders:
        os.environ["PYTHONPATH"] = pythonpath_with(folders, os.environ.get("PYTHONPATH"))
