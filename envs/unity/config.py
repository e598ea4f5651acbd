"""The ``env_config`` a Unity environment takes, checked once into an immutable :class:`UnityConfig`."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, fields
from typing import Any, Mapping

from envs.errors import EnvConfigError

DEFAULT_GAME = "Basic"
"""The seeds' default ``env_name``: the ML-Agents example environment "Basic"."""
DEFAULT_BASE_PORT = 5005
"""``UnityEnvironment.BASE_ENVIRONMENT_PORT``: the port of worker id 0 for an executable."""
WORKER_ID_STRIDE = 16
"""Env runner ``i`` starts at worker id ``i * WORKER_ID_STRIDE``; its sub-environments take the next free ids."""
DEFAULT_REGISTRY_URL = "https://storage.googleapis.com/mlagents-test-environments/1.0.0/manifest.yaml"
"""The manifest ``mlagents_envs.registry.default_registry`` reads (needs the internet)."""

# Keys RLlib or gymnasium may add to an env_config, and the episode limit (applied by envs.registry.make_env's
# TimeLimit, or by the multi-agent env itself); they carry nothing for the player.
_IGNORED_KEYS = ("num_envs", "render_mode", "max_episode_steps", "episode_step_cap")


@dataclass(frozen=True)
class UnityConfig:
    """Everything needed to find, launch and talk to one Unity player. Every field is an ``env_config`` key."""

    env_name: str = DEFAULT_GAME
    """A registry id ("Basic", "3DBall"), or a player file or folder: a name inside ``train_dir`` or a path."""
    player: str | None = None
    """The resolved player executable (rlrt fills it in once, before env runners start; or give a path)."""
    train_dir: str | None = None
    """The folder of the job's ``train`` channel, where a user's player is searched first (set by rlrt)."""
    log_dir: str | None = None
    """Where each player's log goes, as ``unity-<worker id>.log`` (rlrt sets its intermediate folder)."""
    registry_manifest: str | None = None
    """A local ML-Agents registry manifest (YAML); a relative path is looked up in ``train_dir`` first."""
    registry_url: str = DEFAULT_REGISTRY_URL
    """The remote manifest tried for a registry id that is neither local nor cached (when ``download``)."""
    download: bool = True
    """Whether a registry id may be downloaded (manifest and player zip)."""
    download_timeout_s: float = 30.0
    cache_dir: str | None = None
    """Registry binary cache, laid out as ML-Agents' (``<id>-<md5 of url>/``); default ML-Agents' own
    (``<temp dir>/ml-agents-binaries/binaries``)."""
    base_port: int = DEFAULT_BASE_PORT
    worker_id: int | None = None
    """First worker id to try (port = base_port + worker id); default ``worker_index * 16``."""
    worker_index: int = 0
    """RLlib's env-runner index (rlrt passes it from RLlib's EnvContext)."""
    port_attempts: int = 64
    """How many consecutive worker ids to try when a port is busy."""
    no_graphics: bool = True
    """Run the player with ``-nographics -batchmode`` (camera observations need graphics in a real player)."""
    timeout_wait: int = 60
    """Seconds to wait for the player to connect, and for each of its answers."""
    time_scale: float | None = 20.0
    """Unity's time scale (ML-Agents' engine configuration side channel; mlagents-learn uses 20); null leaves it."""
    seed: int = 0
    additional_args: tuple[str, ...] = ()
    """Extra command-line arguments for the player."""
    behavior_name: str | None = None
    """Single-agent env: which behavior to control when the game has several (default: the only one)."""

    @classmethod
    def from_mapping(cls, env_config: Mapping[str, Any] | None) -> "UnityConfig":
        """Check ``env_config`` (unknown keys, types, ranges) into a :class:`UnityConfig`; EnvConfigError if bad."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in dict(env_config or {}).items():
            if key in _IGNORED_KEYS:
                continue
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                problems.append(f"unknown Unity env_config key '{key}'.{hint} Known keys: {', '.join(known)}")
                continue
            problem = _check(key, value)
            if problem:
                problems.append(problem)
            else:
                values[key] = tuple(value) if key == "additional_args" else value
        if problems:
            raise EnvConfigError("Invalid Unity environment configuration: " + "; ".join(problems))
        return cls(**values)

    def first_worker_id(self) -> int:
        return self.worker_id if self.worker_id is not None else self.worker_index * WORKER_ID_STRIDE


_INTS = {"base_port": 1, "worker_id": 0, "worker_index": 0, "port_attempts": 1, "timeout_wait": 1, "seed": 0}
_STRINGS = (
    "env_name",
    "player",
    "train_dir",
    "log_dir",
    "registry_manifest",
    "registry_url",
    "cache_dir",
    "behavior_name",
)


def _check(key: str, value: Any) -> str | None:
    shown = json.dumps(value, default=str)
    if key in _INTS:
        if value is None and key == "worker_id":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < _INTS[key]:
            return f"'{key}' must be an integer >= {_INTS[key]}, got {shown}"
        if key == "base_port" and value > 65535:
            return f"'base_port' must be a TCP port (1-65535), got {shown}"
    elif key in _STRINGS:
        if value is None and key != "env_name" and key != "registry_url":
            return None
        if not isinstance(value, str) or not value.strip():
            return f"'{key}' must be a non-empty string, got {shown}"
    elif key in ("no_graphics", "download"):
        if not isinstance(value, bool):
            return f"'{key}' must be true or false, got {shown}"
    elif key in ("time_scale", "download_timeout_s"):
        if value is None and key == "time_scale":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return f"'{key}' must be a number > 0, got {shown}"
    elif key == "additional_args":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return f"'additional_args' must be a list of strings, got {shown}"
    return None
