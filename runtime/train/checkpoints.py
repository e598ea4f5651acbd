"""Checkpoints in ``/opt/ml/checkpoints``: written atomically, the last K kept, the newest intact one resumed.

Each checkpoint is a folder ``checkpoint_<iteration>`` holding the framework's own checkpoint, ``rlrt_state.json``
(our counters and what wrote it: algorithm, environment, observation and action spaces) and, written last,
``rlrt_manifest.json`` (every file's size and sha256, :mod:`runtime.train.manifest`). It is written under a
temporary name and renamed into place, so a job killed mid-write never leaves a half checkpoint.

A checkpoint can still come back damaged from S3 (SageMaker syncs the folder file by file). :meth:`CheckpointManager.
resume` verifies the newest, and falls back to the newest older one that verifies and loads, with a warning line per
damaged one, which it renames aside (``checkpoint_<iteration>.damaged``: never picked again, never pruned). When
none is intact the job fails with a :class:`~runtime.errors.UserError` listing them (left in place) and how to start
fresh. A checkpoint written by another algorithm, environment or spaces is refused (not damage: left in place).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from envs.registry import canonical_env_id
from runtime.errors import UserError, container_job
from runtime.names import DAMAGED_SUFFIX, MANIFEST_FILE, STATE_FILE
from runtime.paths import describe_os_error
from runtime.train.manifest import verify_manifest, write_manifest

_NAME = re.compile(r"^checkpoint_(\d+)$")
_REASON_CHARS = 160


@dataclass(frozen=True)
class TrainingState:
    """The counters a resumed job continues from."""

    training_iteration: int = 0
    timesteps_total: int = 0
    episodes_total: int = 0
    time_total_s: float = 0.0
    preset: str = ""
    algorithm: str = ""
    env: str = ""
    observation_space: str = ""
    """:func:`describe_space` of the policy's observation space ("" in checkpoints written before it was recorded)."""
    action_space: str = ""


def describe_space(space: Any) -> str:
    """A short, comparable description of a gymnasium space: ``Box(4,)``, ``Discrete(2)``, ``Dict(a: Box(3,))``."""
    if space is None:
        return ""
    name = type(space).__name__
    if name == "Discrete":
        return f"Discrete({int(space.n)})"
    if name in ("Dict", "Tuple"):
        items = space.spaces.items() if name == "Dict" else enumerate(space.spaces)
        return f"{name}(" + ", ".join(f"{k}: {describe_space(v)}" for k, v in items) + ")"
    shape = getattr(space, "shape", None)
    return f"{name}{tuple(shape)}" if shape is not None else name


def _env_key(env: str) -> str:
    """The registry id of ``env`` when it has one (aliases compare equal), else the name itself."""
    if not env or env.lower() == "none":
        return ""
    try:
        return canonical_env_id(env)
    except Exception:  # noqa: BLE001 - an unknown name compares as written
        return env


def identity_mismatch(stored: TrainingState, expected: TrainingState) -> list[str]:
    """How the job that wrote ``stored`` differs from this one (algorithm, environment, spaces); [] when it does
    not. A field an older checkpoint did not record is not compared."""
    differences = []
    if stored.algorithm and expected.algorithm and stored.algorithm.casefold() != expected.algorithm.casefold():
        differences.append(f"algorithm {stored.algorithm} (this job: {expected.algorithm})")
    if (stored.env or expected.env) and _env_key(stored.env) != _env_key(expected.env):
        differences.append(f"environment {stored.env or 'none'} (this job: {expected.env or 'none'})")
    for field in ("observation_space", "action_space"):
        old, new = getattr(stored, field), getattr(expected, field)
        if old and new and old != new:
            differences.append(f"{field.replace('_', ' ')} {old} (this job: {new})")
    return differences


NETWORK_KEYS = ("model_config", "hidden_units", "encoder_factory", "q_func_factory")
"""Algorithm settings that shape the network (RLlib's ``model_config``, d3rlpy's encoders): a checkpoint trained
with other values cannot be loaded, so a change is an error at resume, never a checkpoint called damaged."""


def config_changes(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for each setting that differs between a checkpoint's recorded ``stored`` settings and
    this job's (none when the checkpoint recorded none)."""
    if stored is None:
        return []
    changes = []
    for key in sorted(set(stored) | set(current)):
        old, new = stored.get(key, "(unset)"), current.get(key, "(unset)")
        if json.dumps(old, sort_keys=True, default=str) != json.dumps(new, sort_keys=True, default=str):
            changes.append(f"{key}: {json.dumps(old, default=str)} -> {json.dumps(new, default=str)}")
    return changes


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


class CheckpointManager:
    """Saves and finds checkpoints under one folder."""

    def __init__(self, directory: Path, keep: int = 3, config: Mapping[str, Any] | None = None) -> None:
        self.directory = directory
        self.keep = max(1, keep)
        self.config = dict(config or {})
        """The job's algorithm settings, recorded in each checkpoint's state file (``config``) and compared on
        resume (:func:`config_changes`)."""

    def save(self, write: Callable[[Path], None], state: TrainingState) -> Path:
        """Write a checkpoint with ``write(folder)`` plus ``state``; atomically rename it into place; prune. A write
        that fails (a full or read-only disk, a dangling link in the checkpoint's place, an error of the framework's)
        leaves no temporary folder: the last good checkpoint stays the newest."""
        final = self.directory / f"checkpoint_{state.training_iteration:06d}"
        tmp = self.directory / f".tmp-{final.name}-{os.getpid()}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            write(tmp)
            (tmp / STATE_FILE).write_text(json.dumps({**asdict(state), "config": self.config}, indent=2, default=str))
            write_manifest(tmp)  # last: a checkpoint whose files all match it is whole
            if final.is_symlink() or (final.exists() and not final.is_dir()):  # rename cannot replace it by a folder
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(final))
            if final.exists():
                old = _aside(final)
                final.rename(old)
                tmp.rename(final)
                _remove_aside(old, final.name)
            else:
                tmp.rename(final)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            disk = _os_error_in(exc) if isinstance(exc, Exception) else None
            if disk is None:  # not the disk's (a bug, a signal): as it is
                raise
            kept = self.latest()
            where = final if disk.filename and Path(str(disk.filename)) == final else self.directory
            raise UserError(
                f"Cannot write the checkpoint of iteration {state.training_iteration}: "
                f"{describe_os_error(where, disk, 'the checkpoint folder')} "
                + (
                    f"The last good checkpoint, {kept.name}, is kept; a new job in this tree resumes from it."
                    if kept
                    else "No checkpoint was saved."
                )
            ) from exc
        self._prune()
        return final

    def candidates(self) -> list[Path]:
        """Every ``checkpoint_<iteration>`` folder, whole or not, oldest first (not the ones moved aside): by the
        iteration its state file records, else by the number in its name (a copy renamed
        ``checkpoint_99999999`` is as old as the iteration it holds, so it is neither resumed from first nor kept
        while newer ones are pruned)."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match and path.is_dir():
                found.append(
                    (self._recorded_iteration(path, int(match.group(1))), int(match.group(1)), path.name, path)
                )
        return [entry[-1] for entry in sorted(found)]

    @classmethod
    def _recorded_iteration(cls, path: Path, named: int) -> int:
        """The iteration ``path``'s state file records, else ``named`` (no or an unreadable state file)."""
        try:
            return cls.read_state(path).training_iteration
        except (OSError, ValueError, TypeError):
            return named

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints (with our state file), oldest first."""
        return [path for path in self.candidates() if (path / STATE_FILE).is_file()]

    def latest(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        found = self.checkpoints()
        return found[-1] if found else None

    @staticmethod
    def read_state(checkpoint: Path) -> TrainingState:
        """The counters stored in ``checkpoint``; ValueError when the file is not a state we wrote."""
        data = json.loads((checkpoint / STATE_FILE).read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{STATE_FILE} holds {type(data).__name__}, not an object")
        values: dict[str, Any] = {}
        for name, default in asdict(TrainingState()).items():
            value = data.get(name, default)
            kind = float if isinstance(default, float) else type(default)
            if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
                raise ValueError(f"{STATE_FILE}: {name} is {value!r}")
            values[name] = kind(value)
        return TrainingState(**values)

    @staticmethod
    def stored_config(checkpoint: Path) -> dict[str, Any] | None:
        """The algorithm settings ``checkpoint`` was trained with; None when it did not record them."""
        try:
            config = json.loads((checkpoint / STATE_FILE).read_text()).get("config")
        except (OSError, ValueError, AttributeError):
            return None
        return config if isinstance(config, dict) else None

    def move_aside(self, checkpoint: Path) -> Path:
        """Rename a damaged ``checkpoint`` to ``<name>.damaged`` (``.damaged.2``, ... if taken); returns the new path.

        The new name is no checkpoint name: it is never resumed from nor pruned, and stays for inspection.
        """
        target = checkpoint.with_name(checkpoint.name + DAMAGED_SUFFIX)
        number = 1
        while target.exists():
            number += 1
            target = checkpoint.with_name(f"{checkpoint.name}{DAMAGED_SUFFIX}.{number}")
        checkpoint.rename(target)
        return target

    def resume(
        self, restore: Callable[[Path], None], expected: TrainingState, warn: Callable[[str], None]
    ) -> tuple[Path, TrainingState] | None:
        """Restore the newest intact checkpoint with ``restore(folder)``; returns it and its state, or None if there
        is none at all.

        Newest first, a checkpoint is damaged when its manifest does not verify, its state file cannot be read, or
        ``restore`` raises (an older checkpoint without a manifest is used only if it loads). Once one loads, every
        damaged newer one is moved aside with a ``warn`` line naming what was wrong. Raises :class:`UserError` when
        none is intact (all left in place), or when the newest readable one was written for another algorithm,
        environment or spaces than ``expected``.
        """
        damaged: list[tuple[Path, str]] = []
        for path in reversed(self.candidates()):
            check = verify_manifest(path)
            if check.damaged:
                damaged.append((path, "; ".join(check.problems)))
                continue
            try:
                state = self.read_state(path)
            except (OSError, ValueError, TypeError) as exc:
                damaged.append((path, f"{STATE_FILE} unreadable: {exc}"))
                continue
            differences = identity_mismatch(state, expected)
            if differences:
                raise UserError(
                    f"The checkpoint {path} was written by another job ({state.preset or 'unknown preset'}): "
                    + "; ".join(differences)
                    + ". This job cannot resume from it. "
                    + self._start_fresh()
                )
            network = [
                change
                for change in config_changes(self.stored_config(path), self.config)
                if change.split(":", 1)[0] in NETWORK_KEYS
            ]
            if network:
                raise UserError(
                    f"The checkpoint {path} holds a network of another shape than this job asks for: "
                    + "; ".join(network)
                    + ". Its weights cannot be loaded into this network. Train with the "
                    "checkpoint's settings to resume from it. " + self._start_fresh()
                )
            try:
                restore(path)
            except UserError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever the framework raises on a file it cannot load
                damaged.append((path, f"it does not load: {type(exc).__name__}: {exc}"))
                continue
            for bad, reason in damaged:
                moved = self.move_aside(bad)
                warn(
                    f"rlrt: warning: checkpoint {bad.name} is damaged ({_short(reason)}); moved aside to "
                    f"{moved.name}; resuming from the older {path.name}"
                )
            if check.status != "intact":
                warn(
                    f"rlrt: {path.name} has no {MANIFEST_FILE} (written by an earlier rlrt): it loaded, so the job "
                    "resumes from it unverified"
                )
            return path, state
        if not damaged:
            return None
        listed = "; ".join(f"{p.name} ({_short(reason)})" for p, reason in damaged[:5])
        more = f"; and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        raise UserError(
            f"No intact checkpoint to resume from in {self.directory}: {listed}{more}. They are left as "
            f"they are. {self._start_fresh()}"
        )

    def _start_fresh(self) -> str:
        if container_job(self.directory.parent):
            return f"To start fresh, empty {self.directory}: on SageMaker, give the estimator a new checkpoint_s3_uri."
        return (
            f"To start fresh, empty {self.directory} or run the job in another tree (--base-dir or SAGEMAKER_BASE_DIR)."
        )

    def _prune(self) -> None:
        for path in self.checkpoints()[: -self.keep]:
            # Moved aside first (one rename): a checkpoint that cannot be removed whole is never left looking
            # like a checkpoint with half its files.
            aside = _aside(path)
            try:
                path.rename(aside)
            except OSError as exc:
                print(
                    f"rlrt: could not remove the old checkpoint {path} ({exc.strerror or exc}); it is kept", flush=True
                )
                continue
            _remove_aside(aside, path.name)
        # Leftovers of writes that were killed midway.
        for path in self.directory.glob(".tmp-*"):
            if not path.name.endswith(f"-{os.getpid()}"):
                shutil.rmtree(path, ignore_errors=True)


def _os_error_in(exc: BaseException) -> OSError | None:
    """The ``OSError`` that ``exc`` is or was raised from (a framework may wrap the disk's error in its own), or
    None when the failure is not the disk's."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _aside(checkpoint: Path) -> Path:
    """Where ``checkpoint`` is moved before it is removed: a hidden name that is never a checkpoint candidate."""
    return checkpoint.with_name(f".old-{checkpoint.name}-{os.getpid()}")


def _remove_aside(folder: Path, name: str) -> None:
    """Remove a checkpoint folder already moved aside (``.old-...``); what cannot be removed (a file made immutable,
    a permission) is named in one line and the folder left under its hidden name, never resumed from."""
    failed: list[tuple[str, BaseException]] = []
    shutil.rmtree(folder, onerror=lambda _func, path, info: failed.append((path, info[1])))
    if failed:
        path, error = failed[0]
        reason = getattr(error, "strerror", None) or error
        print(
            f"rlrt: could not remove all of the old checkpoint {name} ({reason}: {path}); what is left of it is "
            f"in {folder}: remove it by hand",
            flush=True,
        )
