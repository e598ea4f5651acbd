"""``model_metadata.json``: the action space, sensors, network and algorithm a DeepRacer model is built with."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from envs.deepracer.car import MAX_SPEED, MAX_STEERING_DEG, MIN_SPEED

SENSORS = ("FRONT_FACING_CAMERA", "STEREO_CAMERAS", "LIDAR", "SECTOR_LIDAR", "observation")
NETWORKS = ("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "DEEP_CONVOLUTIONAL_NETWORK", "DEEP_CONVOLUTIONAL_NETWORK_DEEP")
ALGORITHMS = ("clipped_ppo", "sac")
DEFAULT_ACTIONS = tuple({"steering_angle": a, "speed": 0.6} for a in (-30.0, -15.0, 0.0, 15.0, 30.0))


class MetadataError(ValueError):
    """A model_metadata.json that cannot be used; the message names the field."""


@dataclass(frozen=True)
class ModelMetadata:
    """A parsed model_metadata.json."""

    action_space_type: str = "discrete"
    actions: tuple[Mapping[str, float], ...] = DEFAULT_ACTIONS
    """Discrete actions (steering_angle degrees, speed m/s)."""
    steering_range: tuple[float, float] = (-30.0, 30.0)
    speed_range: tuple[float, float] = (0.5, 1.0)
    sensors: tuple[str, ...] = ("FRONT_FACING_CAMERA",)
    neural_network: str = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    training_algorithm: str = "clipped_ppo"
    version: str = "5"
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def continuous(self) -> bool:
        return self.action_space_type == "continuous"

    def to_dict(self) -> dict[str, Any]:
        """The model_metadata.json form (written next to an exported model)."""
        if self.continuous:
            space: Any = {
                "steering_angle": {"low": self.steering_range[0], "high": self.steering_range[1]},
                "speed": {"low": self.speed_range[0], "high": self.speed_range[1]},
            }
        else:
            space = [dict(a) for a in self.actions]
        return {
            "action_space": space,
            "sensor": list(self.sensors),
            "neural_network": self.neural_network,
            "training_algorithm": self.training_algorithm,
            "action_space_type": self.action_space_type,
            "version": self.version,
        }


def _finite_metadata_number(value: Any, where: str, source: str = "model_metadata.json") -> float:
    """``value`` (a JSON number, not a string or boolean) as a finite float; MetadataError naming the field."""
    try:
        number = float(value) if not isinstance(value, bool) and isinstance(value, (int, float)) else math.nan
    except OverflowError:  # an integer beyond float's range
        number = math.nan
    if not math.isfinite(number):
        raise MetadataError(f"{source}: {where} must be a finite number, got {json.dumps(value)}.")
    return number


def parse_metadata(data: Any, source: str = "model_metadata.json") -> ModelMetadata:
    """Check and parse the JSON object of a model_metadata.json; :class:`MetadataError` names the bad field."""
    if not isinstance(data, Mapping):
        raise MetadataError(f"{source} must hold a JSON object, got {type(data).__name__}.")
    space = data.get("action_space", [dict(a) for a in DEFAULT_ACTIONS])
    kind = str(data.get("action_space_type", "continuous" if isinstance(space, Mapping) else "discrete")).lower()
    if kind not in ("discrete", "continuous"):
        raise MetadataError(f"{source}: action_space_type must be 'discrete' or 'continuous', got {kind!r}.")
    sensors = data.get("sensor", ["observation"])  # v1 files have no sensor key: the 'observation' sensor
    if isinstance(sensors, str):
        sensors = [sensors]
    if not isinstance(sensors, list) or not sensors:
        raise MetadataError(f"{source}: 'sensor' must be a non-empty list of {', '.join(SENSORS)}.")
    for s in sensors:
        if s not in SENSORS:
            raise MetadataError(f"{source}: unknown sensor {s!r}; choose from {', '.join(SENSORS)}.")
    if "FRONT_FACING_CAMERA" in sensors and "STEREO_CAMERAS" in sensors:
        raise MetadataError(f"{source}: use FRONT_FACING_CAMERA or STEREO_CAMERAS, not both.")
    if "LIDAR" in sensors and "SECTOR_LIDAR" in sensors:
        raise MetadataError(f"{source}: use LIDAR or SECTOR_LIDAR, not both.")
    network = str(data.get("neural_network", NETWORKS[0]))
    if network not in NETWORKS:
        raise MetadataError(f"{source}: unknown neural_network {network!r}; choose from {', '.join(NETWORKS)}.")
    algorithm = str(data.get("training_algorithm", "clipped_ppo"))
    if algorithm not in ALGORITHMS:
        raise MetadataError(f"{source}: training_algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}.")
    common: dict[str, Any] = dict(
        sensors=tuple(sensors),
        neural_network=network,
        training_algorithm=algorithm,
        version=str(data.get("version", "5")),
        raw=dict(data),
    )
    if kind == "discrete":
        if not isinstance(space, list) or not space:
            raise MetadataError(
                f"{source}: a discrete action_space is a non-empty list of "
                '{"steering_angle": deg, "speed": m/s} objects.'
            )
        actions = []
        for i, action in enumerate(space):
            if not isinstance(action, Mapping) or "steering_angle" not in action or "speed" not in action:
                raise MetadataError(
                    f"{source}: action_space[{i}] needs 'steering_angle' and 'speed', got {json.dumps(action)}."
                )
            steer = _finite_metadata_number(action["steering_angle"], f"action_space[{i}].steering_angle", source)
            speed = _finite_metadata_number(action["speed"], f"action_space[{i}].speed", source)
            actions.append(
                {
                    "steering_angle": max(-MAX_STEERING_DEG, min(MAX_STEERING_DEG, steer)),
                    "speed": max(MIN_SPEED, min(MAX_SPEED, speed)),
                }
            )
        return ModelMetadata(action_space_type="discrete", actions=tuple(actions), **common)
    if not isinstance(space, Mapping) or "steering_angle" not in space or "speed" not in space:
        raise MetadataError(
            f"{source}: a continuous action_space is "
            '{"steering_angle": {"low": .., "high": ..}, "speed": {"low": .., "high": ..}}.'
        )
    ranges = {}
    for key, lo_lim, hi_lim in (
        ("steering_angle", -MAX_STEERING_DEG, MAX_STEERING_DEG),
        ("speed", MIN_SPEED, MAX_SPEED),
    ):
        rng = space[key]
        if not isinstance(rng, Mapping) or "low" not in rng or "high" not in rng:
            raise MetadataError(f"{source}: action_space.{key} needs 'low' and 'high'.")
        lo = max(lo_lim, _finite_metadata_number(rng["low"], f"action_space.{key}.low", source))
        hi = min(hi_lim, _finite_metadata_number(rng["high"], f"action_space.{key}.high", source))
        if lo >= hi:
            raise MetadataError(
                f"{source}: action_space.{key} low ({lo}) must be below high ({hi}) within [{lo_lim}, {hi_lim}]."
            )
        ranges[key] = (lo, hi)
    return ModelMetadata(
        action_space_type="continuous", steering_range=ranges["steering_angle"], speed_range=ranges["speed"], **common
    )


def load_metadata(path: str | Path) -> ModelMetadata:
    """Read and parse a model_metadata.json file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MetadataError(f"{path} does not exist.") from exc
    except (OSError, ValueError) as exc:
        raise MetadataError(f"Cannot read {path}: {exc}") from exc
    except RecursionError:
        raise MetadataError(f"Cannot read {path}: its JSON is nested too deeply.") from None
    return parse_metadata(data, str(path))
