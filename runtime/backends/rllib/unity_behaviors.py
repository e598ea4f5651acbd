"""Which Unity behavior(s) an RLlib policy of a model folder drives, for ML-Agents' ONNX convention
(:class:`runtime.export.mlagents_names.UnityBehavior`), read from the folder's ``config.json`` and ``metadata.json``.

- the sensors: the environment's observation space as ``metadata.json`` records it (a ``Box`` is one sensor, a
  ``Tuple`` one per part, in the Agent's sensor order; a multi-agent model's ``Dict`` by policy id);
- the names, which name the files: the behaviors the env runners' games had at the end of training
  (:func:`running_behaviors`, ``metadata.json``'s ``unity_behaviors``); a multi-agent policy of its own behavior is
  the behavior whose policy id it is (``3DBall?team=0`` -> ``3DBall_team=0``). Without that record (a model folder
  from before it): the policy id without ``_team=N``, ``env_config.behavior_name``, else the game's name
  (``unity:<game>``, or ``env_name`` without ``.x86_64``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from envs.catalog import ALIASES
from envs.registry import split_game_id
from runtime.backends.rllib.algorithm import policy_id_for
from runtime.backends.rllib.config import SHARED_POLICY
from runtime.export.mlagents_names import UnityBehavior
from runtime.names import CONFIG_JSON, METADATA_JSON

UNITY_ENVS = ("Unity", "UnityMultiAgent")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _sensors(space: Mapping[str, Any]) -> tuple[tuple[int, ...], ...] | None:
    if space.get("type") == "Box":
        return (tuple(int(d) for d in space.get("shape") or ()),)
    if space.get("type") == "Tuple" and all(part.get("type") == "Box" for part in space.get("spaces") or ()):
        return tuple(tuple(int(d) for d in part.get("shape") or ()) for part in space["spaces"])
    return None


def _game(env_id: str, env_config: Mapping[str, Any]) -> str:
    game = split_game_id(ALIASES.get(env_id, env_id))[1]
    if game:
        return game
    name = str(env_config.get("env_name") or "Behavior").rstrip("/").rsplit("/", 1)[-1]
    return name[: -len(".x86_64")] if name.endswith(".x86_64") else name


def unity_behavior(model_dir: Path, policy_id: str | None) -> UnityBehavior | None:
    """The behavior(s) policy ``policy_id`` (None: a single-agent model's) drives, or None when the model is not of a
    Unity game (or its folder does not say what the sensors are)."""
    config = _read(model_dir / CONFIG_JSON)
    env_id = str(config.get("env") or "")
    if split_game_id(ALIASES.get(env_id, env_id))[0] not in UNITY_ENVS:
        return None
    env_config = config.get("env_config") or (config.get("config") or {}).get("env_config") or {}
    metadata = _read(model_dir / METADATA_JSON)
    space = metadata.get("observation_space") or {}
    if policy_id is not None and space.get("type") == "Dict":
        space = (space.get("spaces") or {}).get(policy_id) or {}
    shapes = _sensors(space)
    if not shapes:
        return None
    recorded = [str(name) for name in metadata.get("unity_behaviors") or ()]
    if policy_id is not None and policy_id != SHARED_POLICY:
        mine = tuple(name for name in recorded if policy_id_for(name) == policy_id)
        return UnityBehavior(mine or (re.sub(r"_team=\d+$", "", policy_id),), shapes)
    if recorded:
        return UnityBehavior(tuple(recorded), shapes)
    return UnityBehavior((str(env_config.get("behavior_name") or "") or _game(env_id, env_config),), shapes)


def running_behaviors(algo: Any) -> list[str]:
    """The Unity behaviors the env runners' games have (none for other environments, or when none can be asked)."""

    def names(runner: Any) -> list[str]:
        env: Any = getattr(runner, "env", None)
        env = getattr(env, "unwrapped", env)  # RLlib's vector-env wrappers do not pass get_attr on
        found: set[str] = set()
        for attribute in ("behavior_name", "behavior_specs"):
            try:
                values = env.get_attr(attribute)  # gymnasium's vector envs: each sub-environment's attribute
            except Exception:  # noqa: BLE001 - not a Unity game's env, or no env in this runner
                continue
            for value in values:
                found.update([value] if isinstance(value, str) else list(value or ()))
        for sub in getattr(env, "envs", None) or ():  # RLlib's multi-agent vector env: its adapters hold the game
            game = getattr(getattr(sub, "unwrapped", sub), "env", None)
            found.update(getattr(game, "behavior_specs", None) or ())
        return sorted(found)

    try:
        found = algo.env_runner_group.foreach_env_runner(names, local_env_runner=True)
    except Exception:  # noqa: BLE001 - a runner lost at the end: the names then come from the policy ids
        return []
    return sorted({name for names_of_runner in found for name in names_of_runner or ()})
