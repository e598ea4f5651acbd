"""Where an offline job's logged data is, as ``rl.training.config.input`` (RLlib 1.x's ``input``) names it.

RLlib 1.x took a path (a file or folder of sample batches), a glob pattern (``/opt/ml/input/data/train/*.json``), a
list of paths and patterns, or a dict ``{source: probability}`` mixing them (``"sampler"``, its default, sampled the
environment). An offline algorithm trains on all the data named at once: a dict's keys are its sources (the weights
are ignored, with one line), and ``"sampler"`` is refused, since an offline algorithm cannot sample. An absolute path
or pattern under ``/opt/ml`` is that path in the job's own tree (:meth:`JobEnvironment.in_tree`); a relative one is
looked up in the job's code folders (where a script runs on SageMaker), then in the working folder.

:func:`input_patterns` checks the form only (the configuration check runs it before the job starts);
:func:`given_data_sources` finds the files and folders on disk, for :func:`runtime.offline.dataset.load_logged_data`.
:func:`data_files` (:func:`source_files` for several) lists the data files of each (CSV, Parquet and RLlib's
sample-batch files); :func:`offline_data_source` is where a job's data is when ``input`` names none: the ``train``
channel, else the job's code.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Sequence

from runtime.errors import UserError
from runtime.names import CHANNEL_TRAIN, CODE_DIR_IN_TREE, MODULE_DIR_ENV
from runtime.offline.rllib_json import RLLIB_OUTPUT_GLOB
from runtime.paths import path_kind, require_file

log = logging.getLogger(__name__)

INPUT_KEY = "rl.training.config.input"
SAMPLER = "sampler"
"""RLlib 1.x's default ``input``: sample the environment (ordinary online training)."""
_SHOWN = 80
"""Characters of a bad value a message quotes."""
_GLOB = re.compile(r"[*?[]")
"""What makes a path a glob pattern (as in :mod:`glob`)."""
DATA_SUFFIXES = (".csv", ".parquet")
RLLIB_SUFFIX = ".json"


def is_sampler(value: Any) -> bool:
    """Whether ``value`` (an ``input``) means RLlib 1.x's sampling of the environment: ``"sampler"``, or a dict whose
    only source is ``"sampler"``."""
    return value == SAMPLER or (isinstance(value, dict) and list(value) == [SAMPLER])


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _sampler_refused(value: Any) -> UserError:
    what = '"sampler"' if value == SAMPLER else f'{_shown(value)} names "sampler"'
    return UserError(
        f"'{INPUT_KEY}': {what} (RLlib 1.x: sample the environment), but an offline algorithm cannot sample: it "
        f"trains on logged data only. Pass the logged rollouts in the '{CHANNEL_TRAIN}' input channel (and leave "
        f"'{INPUT_KEY}' out), or name their files, folders or glob patterns in '{INPUT_KEY}'."
    )


def input_patterns(value: Any) -> list[str]:
    """The paths and glob patterns an ``input`` value names, in order, each once: a string, a non-empty list of
    strings, or a dict whose keys are paths (weights ignored). :class:`UserError` for any other form and for
    ``"sampler"`` anywhere in it. Checks the form only (nothing on disk)."""
    if not isinstance(value, (str, list, dict)) or isinstance(value, str) and not value.strip():
        raise UserError(
            f"'{INPUT_KEY}' must name logged data: a file, folder or glob pattern of rollouts, or a list "
            f"of them; got {_shown(value)} ({type(value).__name__})"
        )
    if isinstance(value, dict):
        if SAMPLER in value:
            raise _sampler_refused(value)
        items = list(value)
        form = "a dict of {path: weight}"
    elif isinstance(value, list):
        items = list(value)
        form = "a list"
    else:
        items, form = [value], "a string"
    if not items:
        raise UserError(
            f"'{INPUT_KEY}' is an empty {'dict' if isinstance(value, dict) else 'list'}: name at least "
            "one file, folder or glob pattern of logged rollouts"
        )
    patterns: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip() or "\x00" in item:
            raise UserError(
                f"'{INPUT_KEY}' ({form}) must hold non-empty paths or glob patterns, got {_shown(item)} in "
                f"{_shown(value)}"
            )
        if item == SAMPLER:
            raise _sampler_refused(value)
        if item not in patterns:
            patterns.append(item)
    return patterns


def input_problem(value: Any) -> str | None:
    """The problem :func:`input_patterns` finds with ``value``, or None (the configuration check's words)."""
    try:
        input_patterns(value)
    except UserError as exc:
        return str(exc)
    return None


def code_dirs(job: Any) -> list[Path]:
    """The job's code folders, where a notebook's ``source_dir`` lands: ``SM_MODULE_DIR`` when it is a local folder
    (on SageMaker it is an S3 URI), then ``<base>/code`` (``/opt/ml/code``)."""
    found = []
    module_dir = os.environ.get(MODULE_DIR_ENV, "")
    if module_dir and "://" not in module_dir and Path(module_dir).is_dir():
        found.append(Path(module_dir).resolve())
    in_tree = (Path(job.base_dir) / CODE_DIR_IN_TREE).resolve()
    if in_tree.is_dir() and in_tree not in found:
        found.append(in_tree)
    return found


def _candidates(job: Any, given: str) -> list[Path]:
    """Where ``given`` may be: an absolute path in the job's own tree (``/opt/ml/...`` in a local job), or a
    relative one in each code folder, then in the working folder."""
    try:
        path = Path(given).expanduser()
    except RuntimeError:  # ~name of no known user: the path as written
        path = Path(given)
    if path.is_absolute():
        return [job.in_tree(path)]
    return [folder / path for folder in code_dirs(job)] + [Path.cwd() / path]


def given_data_source(job: Any, given: str) -> Path:
    """The logged data ``rl.training.config.input`` names (RLlib 1.x's ``input``): an absolute path (a SageMaker
    path ``/opt/ml/...`` inside the job's own tree), or one relative to the job's code folder (where a script runs
    on SageMaker) or the working folder."""
    candidates = _candidates(job, given)
    for candidate in candidates:
        if candidate.exists():
            return candidate.resolve()
    raise UserError(
        f"{INPUT_KEY} names {given!r}, which does not exist (looked at "
        f"{', '.join(str(c) for c in candidates)}). Name the folder of logged rollouts (an online job's "
        "'output', `rlrt collect`'s files, or RLlib 1.x's output-*.json sample batches)."
    )


def _matches(job: Any, pattern: str) -> list[Path]:
    """The files and folders glob ``pattern`` matches in the first place it matches anything (see
    :func:`_candidates`), sorted; :class:`UserError` naming the pattern when it matches nothing."""
    candidates = _candidates(job, pattern)
    for candidate in candidates:
        found = sorted({Path(p).resolve() for p in glob.glob(str(candidate))})
        if found:
            return found
    raise UserError(
        f"{INPUT_KEY}: the glob pattern {pattern!r} matches no file (looked for "
        f"{', '.join(str(c) for c in candidates)}). Name the logged rollouts' files or folder."
    )


def given_data_sources(job: Any, value: Any, warn: bool = True) -> list[Path]:
    """The files and folders an ``input`` value names (a path, glob pattern, list or dict: :func:`input_patterns`),
    each once, in the order given; :class:`UserError` naming a path that does not exist or a pattern that matches
    nothing. ``warn``: say in one line that a dict's weights are ignored."""
    patterns = input_patterns(value)
    if isinstance(value, dict) and warn:
        log.warning(
            "%s: an offline algorithm trains on all of its data at once; the weights of %s are ignored",
            INPUT_KEY,
            _shown(value),
        )
    sources: dict[Path, None] = {}
    for pattern in patterns:
        found = _matches(job, pattern) if _GLOB.search(pattern) else [given_data_source(job, pattern)]
        sources.update(dict.fromkeys(found))
    return list(sources)


def common_folder(sources: Sequence[Path]) -> Path:
    """The folder to name for ``sources`` (files and folders): the deepest folder holding them all."""
    return Path(os.path.commonpath([p if p.is_dir() else p.parent for p in sources]))


def data_files(path: Path) -> list[Path]:
    """The data files at ``path``: the file, or under a folder every CSV/Parquet file and RLlib's ``output-*.json``
    sample-batch files, sorted."""
    if path.is_file():
        if path.suffix.lower() not in (*DATA_SUFFIXES, RLLIB_SUFFIX):
            raise UserError(f"{path} is not a .csv or .parquet rollout file or an RLlib .json sample-batch file.")
        return [path]
    if not path.is_dir():
        require_file(path, "The offline data")  # says what is there: nothing, a broken link, a named pipe
        raise UserError(f"Offline data {path} is {path_kind(path)}, not a .csv or .parquet file or a folder of them.")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and (p.suffix.lower() in DATA_SUFFIXES or (p.suffix.lower() == RLLIB_SUFFIX and p.match(RLLIB_OUTPUT_GLOB)))
    )
    if not files:
        # Say what is there, with what each entry is: a folder or a named pipe called d.csv is not a data file.
        others = [p for p in sorted(path.rglob("*")) if not p.name.startswith(".")][:5]
        found = ", ".join(str(p.relative_to(path)) + ("" if p.is_file() else f" ({path_kind(p)})") for p in others)
        named = [p for p in others if p.suffix.lower() in DATA_SUFFIXES and not p.is_file()]
        raise UserError(
            f"No .csv or .parquet rollout files or RLlib {RLLIB_OUTPUT_GLOB} sample-batch files under {path}"
            + (f" (found: {found})." if others else " (the folder is empty).")
            + (
                f" {named[0]} is {path_kind(named[0])}, not a file: give the rollouts as regular files"
                + (" (rlrt reads channels in File mode, not Pipe mode)." if "pipe" in path_kind(named[0]) else ".")
                if named
                else ""
            )
        )
    return files


def source_files(sources: Path | Sequence[Path]) -> list[Path]:
    """The data files of one source or several (each a file or folder: :func:`data_files`), sorted, each once."""
    return sorted({f for source in ([sources] if isinstance(sources, Path) else sources) for f in data_files(source)})


def offline_data_source(job: Any) -> Path:
    """Where a job's offline data is: the ``train`` channel, else (the Batch RL seed keeps its CSV in ``source_dir``
    and passes no channel) the first code folder holding a .csv or .parquet file. UserError naming both when
    neither has data."""
    train: Path = job.channel_dir(CHANNEL_TRAIN)
    if train.is_dir():
        return train
    searched = code_dirs(job)
    for folder in searched:
        if any(
            p.is_file() and p.suffix.lower() in DATA_SUFFIXES and not p.name.startswith(".") for p in folder.rglob("*")
        ):
            return folder
    where = (
        ", ".join(str(p) for p in searched)
        or f"no code folder (${MODULE_DIR_ENV} unset, {Path(job.base_dir) / 'code'} absent)"
    )
    missing = job.channel_dir(CHANNEL_TRAIN)
    pipe = job.pipe_mode_note(CHANNEL_TRAIN) if hasattr(job, "pipe_mode_note") else ""
    if pipe:
        raise UserError(f"No offline data: the '{CHANNEL_TRAIN}' input channel is not a folder: {pipe}")
    raise UserError(
        f"No offline data: this job needs the '{CHANNEL_TRAIN}' input channel ({missing} does not exist) "
        f"or a .csv or .parquet file in the job's code ({where}). Pass the rollouts in the "
        f"'{CHANNEL_TRAIN}' channel or keep the CSV in the estimator's source_dir; outside SageMaker, log "
        f"them with `rlrt collect --env ENV --output {missing}/rollouts.csv` (docs/OFFLINE.md)."
    )
