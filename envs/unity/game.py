"""Finding the Unity player to run: a file or folder the user provides, or an ML-Agents registry id.

Order (the first that applies wins):

1. ``env_name`` is an absolute path: that file, or the ``*.x86_64`` player inside that folder.
2. ``train_dir`` (the job's ``train`` channel) exists: ``train_dir/<env_name>`` as a file or a folder, else a player
   named ``<env_name>.x86_64`` (or ``<env_name>`` when it already ends so) anywhere under ``train_dir``.
3. A registry id: a local manifest (``registry_manifest``) entry, served from the binary cache or downloaded from its
   ``linux_url`` (``file://`` URLs and plain paths to a zip work offline); else an already-cached binary of that id;
   else (``download``) ML-Agents' remote registry.
4. Otherwise an :class:`~envs.errors.EnvConfigError` that says how to provide the player.

The player found is made executable (an upload from S3 loses its mode bits).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import yaml

from envs.errors import EnvConfigError
from envs.unity.config import UnityConfig

log = logging.getLogger(__name__)

PLAYER_SUFFIX = ".x86_64"
_CRASH_HANDLER = "UnityCrashHandler"


def default_cache_dir() -> Path:
    """ML-Agents' binary cache: ``<temp dir>/ml-agents-binaries/binaries`` (what ``default_registry`` fills)."""
    return Path(tempfile.gettempdir()) / "ml-agents-binaries" / "binaries"


def how_to_provide(name: str) -> str:
    """The part of every 'game not found' message that says what to do."""
    player = name if name.endswith(PLAYER_SUFFIX) else name + PLAYER_SUFFIX
    return (
        "Provide the player: (1) upload your Linux build (e.g. " + player + " with its _Data folder) as the 'train' "
        "channel and set rl.training.config.env_config.env_name to its file or folder name; (2) set "
        "rl.training.config.env_config.registry_manifest to a local ML-Agents registry manifest whose linux_url is "
        "the build's zip (file:// or a path); (3) pre-fill ML-Agents' binary cache (env_config cache_dir) in the "
        "image. See docs/UNITY.md."
    )


def make_executable(path: Path) -> Path:
    """Give ``path`` execute permission (uploads lose it); EnvConfigError if that is impossible."""
    mode = path.stat().st_mode
    wanted = mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    if mode != wanted:
        try:
            path.chmod(wanted)
        except OSError as exc:
            if not os.access(path, os.X_OK):
                raise EnvConfigError(f"The Unity player {path} is not executable and chmod failed: {exc}") from exc
    return path


def players_in(folder: Path) -> list[Path]:
    """Every Linux player (``*.x86_64`` file, not Unity's crash handler) under ``folder``, sorted."""
    return sorted(p for p in folder.rglob(f"*{PLAYER_SUFFIX}") if p.is_file() and _CRASH_HANDLER not in p.name)


def player_in_path(path: Path, what: str) -> Path:
    """``path`` itself when it is a file, else the one player inside the folder ``path``."""
    if path.is_file():
        return make_executable(path)
    found = players_in(path)
    if len(found) == 1:
        return make_executable(found[0])
    if not found:
        raise EnvConfigError(
            f"{what} {path} is a folder without a Linux Unity player (*{PLAYER_SUFFIX}) in it. "
            "Build the game for Linux (x86_64) and upload the build folder."
        )
    listed = ", ".join(str(p.relative_to(path)) for p in found)
    raise EnvConfigError(
        f"{what} {path} holds several Unity players ({listed}); set rl.training.config.env_config.env_name "
        "to the one to train on."
    )


def find_in_folder(folder: Path, name: str) -> Path | None:
    """The player ``name`` names inside ``folder`` (the train channel), or None."""
    direct = folder / name
    if direct.exists():
        return player_in_path(direct, f"env_name '{name}' names")
    file_name = name if name.endswith(PLAYER_SUFFIX) else name + PLAYER_SUFFIX
    matches = sorted(p for p in folder.rglob(file_name) if p.is_file())
    if len(matches) > 1:
        listed = ", ".join(str(p.relative_to(folder)) for p in matches)
        raise EnvConfigError(
            f"The train channel {folder} holds several players named {file_name} ({listed}); set "
            "rl.training.config.env_config.env_name to the path of one, relative to the channel."
        )
    return make_executable(matches[0]) if matches else None


def load_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """A registry manifest (``environments: [{<id>: {linux_url: ..., ...}}, ...]``) as ``{id: entry}``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EnvConfigError(f"Cannot read the Unity registry manifest {path}: {exc}") from exc
    entries: dict[str, dict[str, Any]] = {}
    environments = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(environments, list):
        raise EnvConfigError(
            f"The Unity registry manifest {path} must hold 'environments:', a list of "
            "'<id>: {linux_url: ..., description: ...}' entries (ML-Agents' manifest format)."
        )
    for item in environments:
        if isinstance(item, dict):
            for identifier, entry in item.items():
                if isinstance(entry, dict):
                    entries[str(identifier)] = entry
    return entries


def _url_of(location: str, relative_to: Path) -> str:
    """A URL for a manifest's ``linux_url``: URLs stay, a plain path becomes a ``file://`` URL."""
    if urllib.parse.urlparse(location).scheme in ("http", "https", "file", "ftp"):
        return location
    path = Path(location)
    if not path.is_absolute():
        path = relative_to / path
    return path.resolve().as_uri()


def cached_player(cache_dir: Path, identifier: str, url: str | None = None) -> Path | None:
    """A player already extracted in the cache for ``identifier`` (from ``url`` when given, else from any URL)."""
    if not cache_dir.is_dir():
        return None
    if url is not None:
        folders = [cache_dir / f"{identifier}-{hashlib.md5(url.encode()).hexdigest()}"]
    else:
        folders = sorted(
            p for p in cache_dir.glob(f"{identifier}-*") if p.is_dir() and len(p.name) == len(identifier) + 33
        )
    for folder in folders:
        if folder.is_dir():
            found = players_in(folder)
            if found:
                return make_executable(found[0])
    return None


def download_player(cache_dir: Path, identifier: str, url: str, timeout_s: float) -> Path:
    """Download and extract the zip at ``url`` into the cache (ML-Agents' layout); return the player in it."""
    target = cache_dir / f"{identifier}-{hashlib.md5(url.encode()).hexdigest()}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".{target.name}-{uuid.uuid4().hex}.zip"
    log.info("downloading the Unity game %s from %s", identifier, url)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
        staging = cache_dir / f".{target.name}-{uuid.uuid4().hex}"
        with zipfile.ZipFile(partial) as archive:
            archive.extractall(staging)
        if target.exists():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.rename(target)
    except (OSError, urllib.error.URLError, zipfile.BadZipFile) as exc:
        raise EnvConfigError(
            f"Cannot download the Unity game '{identifier}' from {url}: {exc}. {how_to_provide(identifier)}"
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    found = players_in(target)
    if not found:
        raise EnvConfigError(
            f"The zip for the Unity game '{identifier}' ({url}) holds no Linux player (*{PLAYER_SUFFIX})."
        )
    return make_executable(found[0])


def _remote_manifest_entry(config: UnityConfig, identifier: str) -> tuple[dict[str, Any] | None, str | None]:
    """The remote registry's entry for ``identifier`` (or None), and why it could not be read (or None)."""
    try:
        with urllib.request.urlopen(config.registry_url, timeout=config.download_timeout_s) as response:
            data = yaml.safe_load(response.read())
    except (OSError, urllib.error.URLError, yaml.YAMLError) as exc:
        return None, f"the ML-Agents registry {config.registry_url} could not be read ({exc})"
    for item in (data or {}).get("environments", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and identifier in item and isinstance(item[identifier], dict):
            return item[identifier], None
    return None, f"the ML-Agents registry {config.registry_url} has no '{identifier}'"


def find_player(config: UnityConfig) -> Path:
    """The player executable ``config`` names (see the module docstring); EnvConfigError saying how to fix it."""
    if config.player:
        path = Path(config.player)
        if not path.exists():
            raise EnvConfigError(f"The Unity player {path} (env_config 'player') does not exist.")
        return player_in_path(path, "env_config 'player'")
    name = config.env_name.strip()
    as_path = Path(name)
    if as_path.is_absolute():
        if not as_path.exists():
            raise EnvConfigError(f"The Unity player {as_path} (env_config 'env_name') does not exist.")
        return player_in_path(as_path, f"env_name '{name}' names")
    train_dir = Path(config.train_dir) if config.train_dir else None
    tried: list[str] = []
    if train_dir is not None and train_dir.is_dir():
        found = find_in_folder(train_dir, name)
        if found is not None:
            return found
        present = [str(p.relative_to(train_dir)) for p in players_in(train_dir)]
        tried.append(
            f"the train channel {train_dir} has no '{name}'"
            + (f" (players there: {', '.join(present)})" if present else " (and no *.x86_64 player at all)")
        )

    cache_dir = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    if config.registry_manifest:
        manifest = Path(config.registry_manifest)
        if not manifest.is_absolute() and train_dir is not None and (train_dir / manifest).is_file():
            manifest = train_dir / manifest
        if not manifest.is_file():
            raise EnvConfigError(
                f"The Unity registry manifest {manifest} (env_config 'registry_manifest') does not exist."
            )
        entries = load_manifest(manifest)
        entry = entries.get(name)
        if entry is not None:
            if not entry.get("linux_url"):
                raise EnvConfigError(f"The registry manifest {manifest} has no linux_url for '{name}'.")
            url = _url_of(str(entry["linux_url"]), manifest.parent)
            cached = cached_player(cache_dir, name, url)
            if cached is not None:
                return cached
            return download_player(cache_dir, name, url, config.download_timeout_s)
        known = ", ".join(sorted(entries)) or "nothing"
        tried.append(f"the registry manifest {manifest} has no '{name}' (it has: {known})")

    cached = cached_player(cache_dir, name)
    if cached is not None:
        return cached
    tried.append(f"no cached binary of '{name}' in {cache_dir}")

    if config.download:
        entry, problem = _remote_manifest_entry(config, name)
        if entry is not None and entry.get("linux_url"):
            return download_player(cache_dir, name, str(entry["linux_url"]), config.download_timeout_s)
        tried.append(problem or f"the ML-Agents registry entry '{name}' has no Linux player")
    else:
        tried.append("downloads are off (env_config download: false)")
    raise EnvConfigError(f"Cannot find the Unity game '{name}': " + "; ".join(tried) + ". " + how_to_provide(name))
