"""Compatibility modules for the imports SageMaker RL scripts make, shipped with rlrt (documented in
docs/MIGRATING.md): ``roboschool`` (its gym ids give the PyBullet successors), ``gym_unity``
(``gym_unity.envs.UnityToGymWrapper`` over an ``mlagents_envs`` ``UnityEnvironment``) and ``rl_coach`` (Coach's
parameter classes, so that Coach presets and ``train-coach.py`` import unchanged; no Coach engine).

Each lives in its own folder (``for_<module>/<module>``), which :func:`install` adds at the END of ``sys.path`` and
of ``PYTHONPATH`` (for Ray's worker processes) only when that module is not installed for real: a real
``roboschool``, ``gym_unity`` or ``rl_coach`` is never shadowed. The script-mode path (``runtime.container``) and the
launcher call it; nothing happens on import. (``from ray.tune import run_experiments`` needs no module: Ray 2.x
still has it.) :func:`install` also gives the user's code what NumPy 1 and gym 0.21 had (:mod:`.era`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from sagemaker_rl.compat import era

MODULES = ("roboschool", "gym_unity", "rl_coach")
HERE = Path(__file__).resolve().parent


def folder(module: str) -> Path:
    """The folder holding the compatibility module ``module``."""
    return HERE / f"for_{module}"


def missing_folders() -> list[str]:
    """The folders of the compatibility modules whose real module is absent (and not yet on ``sys.path``)."""
    wanted = []
    for module in MODULES:
        path = str(folder(module))
        if path in sys.path:
            continue
        if importlib.util.find_spec(module) is None:
            wanted.append(path)
    return wanted


def pythonpath_with(folders: list[str], current: str | None) -> str:
    """``PYTHONPATH`` with ``folders`` appended (at the end; already present ones not repeated)."""
    parts = [p for p in (current or "").split(os.pathsep) if p]
    return os.pathsep.join(parts + [f for f in folders if f not in parts])


def install() -> None:
    """Make the compatibility modules importable in this process and the processes it starts (Ray workers), and
    give user code there NumPy 1's names and gym 0.21's leniencies (:func:`sagemaker_rl.compat.era.install`)."""
    era.install()
    folders = missing_folders()
    if not folders:
        return
    sys.path.extend(folders)
    os.environ["PYTHONPATH"] = pythonpath_with(folders, os.environ.get("PYTHONPATH"))
