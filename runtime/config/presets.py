"""Presets: YAML data files under ``presets/``, one per (environment, algorithm), each with its pass bar.

A preset is named by its ``name``, by one of its ``aliases`` (the seeds' names such as ``preset-cartpole-ddqnbcq``),
or by a path to a YAML file of the same schema (a user's own preset shipped in the estimator's ``source_dir``).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from envs.adapters import say_once
from runtime.config.stop import same_env
from runtime.config.zoo import is_zoo_file, zoo_preset
from runtime.errors import UserError


def _presets_dir() -> Path:
    """The shipped presets: ``runtime/presets`` in an installed wheel, ``presets/`` beside ``runtime/`` in a
    checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "presets"
    return installed if installed.is_dir() else package.parent / "presets"


PRESETS_DIR = _presets_dir()
DEFAULT_PRESET = "cartpole-ppo"


@dataclass(frozen=True)
class PassBar:
    """The result a preset is expected to reach, and where that number comes from."""

    metric: str
    value: float
    source: str = ""


@dataclass(frozen=True)
class Preset:
    """One preset file, parsed and checked."""

    name: str
    env: str
    algorithm: str
    config: Mapping[str, Any]
    """Algorithm configuration (RLlib AlgorithmConfig keys for online presets)."""
    stop: Mapping[str, Any]
    pass_bar: PassBar | None = None
    """The score the preset is known to reach (every shipped preset has one; a user's own may leave it out)."""
    description: str = ""
    aliases: tuple[str, ...] = ()
    checkpoint_frequency: int = 10
    """Save a checkpoint every this many iterations (and always at the end)."""
    checkpoint_keep: int = 3
    """Keep this many most recent checkpoints."""
    path: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Sections a specific driver understands (e.g. an offline dataset description)."""
    zoo: bool = False
    """Read from an RL Zoo hyperparameter file (:mod:`runtime.config.zoo`), whose converter fills SB3's defaults:
    known from the parse, so that nothing reads the file again to tell."""

    @property
    def where(self) -> str:
        """Where its settings are written, for a message: a shipped preset by name, a user's by its file."""
        shipped = self.path is None or self.path.parent.resolve() == PRESETS_DIR.resolve()
        return f"preset {self.name}" if shipped else f"preset file {self.path}"


_REQUIRED = ("env", "algorithm", "stop")
SERVING_CONVENTIONS = ("rlrt", "coach")
"""A preset's ``serving``: ``coach`` makes the model answer a bare JSON list observation as Coach's MXNet serving did
(``[value, action probabilities]``, and a ``model.onnx``: :mod:`runtime.export.coach_export`); kept in ``extras``."""
_KNOWN = set(_REQUIRED) | {"name", "pass_bar", "description", "aliases", "config", "checkpoint"}


def _preset_number(path: Path, where: str, value: Any, integer: bool = False) -> Any:
    """``value`` as a finite number (an integer >= 1 when ``integer``); a UserError naming the file and field."""
    meaning = "an integer >= 1" if integer else "a finite number"
    try:
        ok = (
            not isinstance(value, bool)
            and isinstance(value, (int, float))
            and math.isfinite(float(value))
            and (not integer or isinstance(value, int) and value >= 1)
        )
    except OverflowError:  # an integer beyond float's range
        ok = False
    if not ok:
        raise UserError(f"Preset file {path}: '{where}' must be {meaning}, got {value!r}.")
    return value


def _parse(data: Any, path: Path) -> Preset:
    if not isinstance(data, dict):
        raise UserError(f"Preset file {path} must hold a YAML mapping, not {type(data).__name__}.")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise UserError(f"Preset file {path} lacks the key(s): {', '.join(missing)}.")
    bar = data.get("pass_bar")
    if bar is not None and (not isinstance(bar, dict) or "metric" not in bar or "value" not in bar):
        raise UserError(f"Preset file {path}: pass_bar needs 'metric' and 'value'.")
    checkpoint = data.get("checkpoint") or {}
    if not isinstance(checkpoint, dict):
        raise UserError(f"Preset file {path}: 'checkpoint' must be a mapping with 'frequency' and 'keep'.")
    for section in ("config", "stop"):
        if not isinstance(data.get(section) or {}, dict):
            raise UserError(f"Preset file {path}: '{section}' must be a mapping.")
    if data.get("serving", "rlrt") not in SERVING_CONVENTIONS:
        raise UserError(
            f"Preset file {path}: 'serving' must be one of {', '.join(SERVING_CONVENTIONS)} (how the model "
            f"answers a bare JSON list), got {data['serving']!r}."
        )
    aliases = data.get("aliases") or ()
    if isinstance(aliases, str) or not isinstance(aliases, (list, tuple)):
        raise UserError(f"Preset file {path}: 'aliases' must be a list of names, got {aliases!r}.")
    return Preset(
        name=str(data.get("name") or path.stem),  # RL Zoo's files are named by their file
        env=str(data["env"]),
        algorithm=str(data["algorithm"]),
        config=MappingProxyType(dict(data.get("config") or {})),
        stop=MappingProxyType(dict(data["stop"] or {})),
        pass_bar=None
        if bar is None
        else PassBar(
            str(bar["metric"]), float(_preset_number(path, "pass_bar.value", bar["value"])), str(bar.get("source", ""))
        ),
        description=str(data.get("description", "")),
        aliases=tuple(str(a) for a in aliases),
        checkpoint_frequency=_preset_number(
            path, "checkpoint.frequency", checkpoint.get("frequency", 10), integer=True
        ),
        checkpoint_keep=_preset_number(path, "checkpoint.keep", checkpoint.get("keep", 3), integer=True),
        path=path,
        extra=MappingProxyType({k: v for k, v in data.items() if k not in _KNOWN}),
    )


def load_preset_file(path: Path, env: str | None = None) -> Preset:
    """Parse one preset YAML file; an RL Zoo hyperparameter file is read as the preset of ``env``'s section (the
    file's only one when ``env`` is None), what it sets without an RLlib counterpart named in one line each
    (:mod:`runtime.config.zoo`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"Cannot read preset file {path}: {exc}") from exc
    except RecursionError:
        raise UserError(f"Cannot read preset file {path}: its YAML is nested too deeply.") from None
    if is_zoo_file(data):
        zoo = zoo_preset(data, path, env)
        for line in zoo.notes:
            say_once(line, line)
        return replace(_parse(zoo.data, path), zoo=True)
    return _parse(data, path)


def all_presets(presets_dir: Path = PRESETS_DIR) -> dict[str, Preset]:
    """Every preset shipped in ``presets_dir``, by name."""
    presets = {}
    for path in sorted(presets_dir.glob("*.yaml")):
        preset = load_preset_file(path)
        presets[preset.name] = preset
    return presets


class Shipped:
    """The shipped presets (:func:`all_presets`), parsed on first use and then kept: a job's preset is chosen
    (:func:`preset_for_job`) and found (:func:`load_preset`) on one reading of the folder."""

    def __init__(self, presets_dir: Path = PRESETS_DIR) -> None:
        self.presets_dir = presets_dir
        self._presets: dict[str, Preset] | None = None

    def __call__(self) -> dict[str, Preset]:
        if self._presets is None:
            self._presets = all_presets(self.presets_dir)
        return self._presets


def list_presets() -> int:
    """``rlrt presets``: print the shipped presets, their pass bars and aliases as a table; returns the exit code."""
    header = ("preset", "env", "algorithm", "pass bar", "also named (aliases)")
    rows = [
        (
            p.name,
            p.env,
            p.algorithm,
            f"{p.pass_bar.metric} >= {p.pass_bar.value:g}" if p.pass_bar else "-",
            ", ".join(p.aliases),
        )
        for p in all_presets().values()
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def preset_for_job(
    default_preset: str, env: Any, algorithm: Any, presets_dir: Path = PRESETS_DIR, shipped: Shipped | None = None
) -> str:
    """The preset a job that names none trains with: where the default is the generic one (``cartpole-ppo``) and the
    job names an environment, the one shipped preset tuned for that environment (an id, or an alias such as
    RoboschoolHopper-v1) and algorithm (the default preset's when the job names none), as RL Zoo's ``--algo ppo
    --env ID`` picks that env's tuned section; else ``default_preset``. ``shipped``: the presets, when read already."""
    if default_preset != DEFAULT_PRESET or not isinstance(env, str) or not env:
        return default_preset
    presets = (shipped or Shipped(presets_dir))()
    algorithm = algorithm if isinstance(algorithm, str) and algorithm else presets[DEFAULT_PRESET].algorithm
    fits = [
        preset.name
        for preset in presets.values()
        if same_env(preset.env, env) and preset.algorithm.casefold() == algorithm.casefold()
    ]
    return fits[0] if len(fits) == 1 else default_preset


SUGGESTION_CUTOFF = 0.75
"""How alike (difflib's ratio) an unknown preset name and a known one must be for "Did you mean" to name it."""


def load_preset(
    name_or_path: str, presets_dir: Path = PRESETS_DIR, env: str | None = None, shipped: Shipped | None = None
) -> Preset:
    """Find a preset by name, alias or file path; an unknown name is a :class:`UserError` with the closest name.
    ``env`` (the job's environment) picks the section of an RL Zoo hyperparameter file; ``shipped``: the presets,
    when read already."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return load_preset_file(candidate, env)
    if candidate.suffix == ".py":
        raise UserError(
            f"Preset '{name_or_path}' is a Python file: a Coach preset (its graph_manager). Train it with "
            f"`rlrt train --preset {name_or_path}`, or in a SageMaker job with train-coach.py and the file "
            'in source_dir (docs/MIGRATING.md, "Coach presets"); rlrt\'s own presets are YAML.'
        )
    presets = (shipped or Shipped(presets_dir))()
    wanted = name_or_path.strip()
    lowered = wanted.lower()
    for preset in presets.values():
        if lowered == preset.name.lower() or lowered in (a.lower() for a in preset.aliases):
            return preset
    names = sorted(presets) + sorted(a for p in presets.values() for a in p.aliases)
    # Only a near spelling is suggested: at 0.5 an unrelated name got one (preset-x -> preset-deepracer).
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=SUGGESTION_CUTOFF)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UserError(f"Unknown preset '{wanted}'.{hint} Available presets: {', '.join(sorted(presets))}.")
