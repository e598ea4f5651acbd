"""``rlrt train --preset src/preset-x.py``: a Coach preset file trained as SageMaker RL's Coach launcher would train
it from a ``train-coach.py`` beside it (the file's folder is source_dir), in the job's own tree or a new local one."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError, default_failure_file, run_job
from runtime.job.environment import prepare_local_tree
from runtime.job.tree import find_base_dir
from runtime.log_lines import configure_logging
from runtime.names import BASE_DIR_ENV, FAILURE_FILE
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class _PresetFileLauncher(SageMakerCoachPresetLauncher):
    """The launcher of a Coach preset file given to ``rlrt train --preset``: the file's folder is source_dir."""

    def __init__(self, preset_file: Path) -> None:
        super().__init__()
        self.preset_file = preset_file

    def preset_name(self) -> str:
        return self.preset_file.stem

    def path_of_main_launcher(self) -> str:
        return str(self.preset_file.parent)


def train_preset_file(preset_file: Path, base_dir: Path | None, overrides: Mapping[str, Any]) -> int:
    """``rlrt train --preset src/preset-x.py``: the Coach preset file trained as a ``train-coach.py`` beside it
    would train it (its folder is source_dir), with ``overrides`` (``--set``) as the job's hyperparameters."""
    configure_logging(others=False)
    path = preset_file.expanduser().resolve()
    root, local = find_base_dir(base_dir, path.stem)

    def prepare() -> None:
        if not path.is_file():
            raise UserError(f"--preset {preset_file}: no such Coach preset file")
        if local:
            prepare_local_tree(root, {k: v for k, v in overrides.items() if k != hp.PRESET})
        print(
            f"rlrt: {path.name} is a Coach preset file: training it as SageMaker RL's Coach launcher would, with "
            f"{path.parent} as source_dir (job tree {root})",
            flush=True,
        )

    # The job's own tree when it exists (--base-dir, SAGEMAKER_BASE_DIR, /opt/ml of a job); a new local tree is made
    # only for a preset file that exists, so a mistyped name writes nowhere (the message is printed).
    code = run_job(prepare, lambda: root / FAILURE_FILE if root.is_dir() else default_failure_file())
    if code:
        return code
    os.environ[BASE_DIR_ENV] = str(root)  # the launcher's job tree, and the one job path's
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # as a script in source_dir imports its modules (level="module:Class")
    return _PresetFileLauncher(path).launch()
