"""Where a job's tree is (:func:`find_base_dir`: ``--base-dir``, ``$SAGEMAKER_BASE_DIR``, ``/opt/ml``, else a new
``./rlrt-jobs/<name>-<time>``), how a launch claims a new one under a name no other launch has (:func:`claim_tree`),
and how a new tree whose job failed before producing anything is removed again (:func:`discard_unused_tree`)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

from runtime.errors import UserError
from runtime.names import (
    BASE_DIR_ENV,
    CHECKPOINTS_DIR,
    CONFIG_DIR,
    CONFIG_JSON,
    CONFIG_YAML,
    DEFAULT_BASE_DIR,
    FAILURE_FILE,
    FAILURE_ROOM_FILE,
    HYPERPARAMETERS_JSON,
    INTERMEDIATE_DIR,
    JOB_LOCK_FILE,
    MODEL_DIR,
    OUTPUT_DIR,
    RESOURCE_CONFIG_JSON,
)

LOCAL_JOBS_DIR = Path("rlrt-jobs")


def find_base_dir(
    base_dir: Path | None, preset_hint: str | Callable[[], str], claim: bool = False
) -> tuple[Path, bool]:
    """Where this job's tree is, and whether it is a local tree we create (not one SageMaker or docker made).

    Order: an explicit ``--base-dir``; ``$SAGEMAKER_BASE_DIR``; ``/opt/ml`` when it holds a job configuration
    (SageMaker, ``docker run``); else a new folder ``./rlrt-jobs/<name>-<time>`` laid out like ``/opt/ml``. With
    ``claim`` that new folder is made here, atomically, under a name no other launch has (see :func:`claim_tree`).
    ``preset_hint`` (what ``<name>`` is made of) may be a function, called only when a new folder is named.
    """
    return locate_tree(base_dir, preset_hint, claim)[:2]


def locate_tree(base_dir: Path | None, preset_hint: str | Callable[[], str], claim: bool) -> tuple[Path, bool, bool]:
    """:func:`find_base_dir`, and whether the tree is a new one this launch claimed under ``./rlrt-jobs``."""
    if base_dir is not None:
        return base_dir.resolve(), not (base_dir / CONFIG_DIR / RESOURCE_CONFIG_JSON).is_file(), False
    if os.environ.get(BASE_DIR_ENV):
        path = Path(os.environ[BASE_DIR_ENV]).resolve()
        return path, not (path / CONFIG_DIR / RESOURCE_CONFIG_JSON).is_file(), False
    if (DEFAULT_BASE_DIR / CONFIG_DIR / HYPERPARAMETERS_JSON).is_file():
        return DEFAULT_BASE_DIR, False, False
    hint = preset_hint() if callable(preset_hint) else preset_hint
    name = f"{tree_name(hint)}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not claim:
        return (LOCAL_JOBS_DIR / name).resolve(), True, False
    return claim_tree(LOCAL_JOBS_DIR, name), True, True


def tree_name(hint: str) -> str:
    """A folder name from a preset name, a preset file's path or ``<env>-<algorithm>``: lower case, ``-`` for any
    character a shell would need quoted."""
    stem = Path(hint).stem if hint.endswith((".yaml", ".yml", ".py")) else hint
    return re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-.") or "job"


def claim_tree(parent: Path, name: str) -> Path:
    """Make the folder ``parent/name``, else ``name-2``, ``name-3``, ... (the first free one) and return it. ``mkdir``
    is atomic, so two launches in the same second (two seeds started together) each get their own tree: sharing one,
    the second would be refused (one training job per tree) or inherit the first's hyperparameters."""
    for attempt in range(1, 10_000):
        path = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()
        except FileExistsError:
            continue
        except FileNotFoundError:  # ``parent`` removed by a launch that just cleaned up after itself: make it again
            continue
        except OSError as exc:
            raise UserError(
                f"Cannot make the job tree {path.absolute()}: {exc.strerror or exc}. Run rlrt in a "
                "folder you can write, or give one (--base-dir or SAGEMAKER_BASE_DIR)."
            ) from exc
        return path.resolve()
    raise UserError(f"{parent.absolute()} holds 10000 job trees named {name}: remove some.")


def produced_anything(root: Path) -> bool:
    """Whether a job in ``root`` produced anything worth keeping: a checkpoint, a model file, an iteration's row in
    ``progress.csv``, an evaluation's outputs. Not what every job writes before it trains (its failure file and
    lock, the resolved configuration, a TensorBoard file's header, ``progress.csv``'s header)."""
    intermediate = root / INTERMEDIATE_DIR
    setup = {
        root / FAILURE_FILE,
        root / OUTPUT_DIR / FAILURE_ROOM_FILE,
        root / JOB_LOCK_FILE,
        intermediate / CONFIG_JSON,
        intermediate / CONFIG_YAML,
    }
    for folder in (CHECKPOINTS_DIR, MODEL_DIR, OUTPUT_DIR):
        for path in (root / folder).rglob("*"):
            if not path.is_file() or path in setup or path.name.startswith("events.out.tfevents."):
                continue
            if path == intermediate / "progress.csv" and len(path.read_bytes().splitlines()) < 2:
                continue
            return True
    return False


def discard_unused_tree(root: Path) -> None:
    """Remove ``root``, a tree this launch made under ``./rlrt-jobs``, when its job failed before producing anything
    (a typo in a setting, a missing file): the folder would hold only the settings that failed, and a folder per
    failed attempt buries the trees that trained. The error was printed already; say where it would have been kept."""
    if produced_anything(root):
        print(
            f"rlrt: the job tree {root} is kept: it holds what the job trained before it failed (output/failure "
            "says why)",
            file=sys.stderr,
            flush=True,
        )
        return
    shutil.rmtree(root, ignore_errors=True)
    try:
        root.parent.rmdir()  # ./rlrt-jobs itself, when this was its only tree
    except OSError:
        pass
    print(
        f"rlrt: nothing was trained, so the new job tree {root} was removed (the error is above)",
        file=sys.stderr,
        flush=True,
    )
