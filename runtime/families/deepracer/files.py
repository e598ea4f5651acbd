"""DeepRacer's job files (reward function, ``model_metadata.json``, ``training_params.yaml`` in the ``train``
channel), the network its ``neural_network`` names, and the observation preprocessing training and evaluation share."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from runtime.errors import UserError

log = logging.getLogger(__name__)
from runtime.families.deepracer.dialect import ENV_SETTINGS, METADATA_FILE, REWARD_FILES, TRAINING_YAML

CNN_FILTERS: Mapping[str, list] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": [[32, 8, 4], [64, 4, 2], [64, 3, 1]],
    "DEEP_CONVOLUTIONAL_NETWORK": [[32, 8, 4], [32, 4, 2], [64, 4, 2], [64, 3, 1]],
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": [[32, 5, 2], [32, 3, 1], [64, 3, 2], [64, 3, 1], [128, 3, 2], [128, 3, 1]],
}
CNN_HEADS: Mapping[str, list] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": [64],
    "DEEP_CONVOLUTIONAL_NETWORK": [256],
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": [512],
}
MLP_HIDDENS: Mapping[str, list] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": [64, 64],
    "DEEP_CONVOLUTIONAL_NETWORK": [128, 128],
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": [256, 256, 256],
}
CAMERAS = ("FRONT_FACING_CAMERA", "STEREO_CAMERAS")


# ----- the job's files ------------------------------------------------------------------------------------------
def _basename(value: Any) -> str | None:
    return Path(str(value)).name if value else None


def find_reward_function(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """The reward function file in the train channel (the ``reward_function_s3_source`` basename first)."""
    named = _basename(extras.get("reward_function_s3_source"))
    if named:
        if train_dir is None or not (train_dir / named).is_file():
            raise UserError(
                f"reward_function_s3_source names '{named}', but the train channel "
                f"({train_dir or 'absent'}) has no such file. Put the reward function there."
            )
        return train_dir / named
    for name in REWARD_FILES:
        if train_dir is not None and (train_dir / name).is_file():
            return train_dir / name
    return None


def find_metadata(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """model_metadata.json in the train channel (or the basename of ``model_metadata_s3_key``)."""
    named = _basename(extras.get("model_metadata_s3_key")) or METADATA_FILE
    if train_dir is not None and (train_dir / named).is_file():
        return train_dir / named
    if extras.get("model_metadata_s3_key"):
        raise UserError(f"model_metadata_s3_key names '{named}', but the train channel ({train_dir or 'absent'}) "
                        "has no such file.")
    return None


def read_training_yaml(train_dir: Path | None) -> dict[str, Any]:
    """Environment settings from training_params.yaml (the RoboMaker YAML), lower-cased; other keys ignored."""
    if train_dir is None or not (train_dir / TRAINING_YAML).is_file():
        return {}
    import yaml

    path = train_dir / TRAINING_YAML
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a YAML mapping of NAME: value.")
    settings = {str(k).lower(): v for k, v in data.items() if str(k).lower() in ENV_SETTINGS + ("number_of_trials",)}
    return settings


def model_config_for(metadata: Any) -> dict[str, Any]:
    """RLlib model_config for the sensors and ``neural_network`` of ``metadata``."""
    network = metadata.neural_network
    sensors = set(metadata.sensors)
    if len(sensors) == 1 and sensors <= set(CAMERAS):
        return {"conv_filters": CNN_FILTERS[network], "conv_activation": "relu", "head_fcnet_hiddens": CNN_HEADS[network],
                "vf_share_layers": True}
    return {"fcnet_hiddens": MLP_HIDDENS[network], "fcnet_activation": "tanh", "vf_share_layers": False}


def deepracer_errors(exc: BaseException) -> str | None:
    """The message of a DeepRacer user error anywhere in ``exc`` (also inside a Ray task error's text)."""
    from envs.deepracer.env import DeepRacerConfigError
    from envs.deepracer.metadata import MetadataError
    from envs.deepracer.reward import RewardFunctionError
    from envs.deepracer.tracks import TrackError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (RewardFunctionError, DeepRacerConfigError, MetadataError, TrackError)):
            return str(seen)
        seen = seen.__cause__ or getattr(seen, "cause", None) or seen.__context__
        if seen is exc:
            break
    matches = re.findall(r"(?:RewardFunctionError|DeepRacerConfigError|MetadataError|TrackError): (.+)", str(exc))
    return matches[-1].strip() if matches else None


# ----- observation preprocessing (shared by training and evaluation) ---------------------------------------------
def scale_observation(observation: Any) -> Any:
    """Camera images (uint8) -> float32 in [0, 1]; other sensors unchanged."""
    if isinstance(observation, dict):
        return {k: scale_observation(v) for k, v in observation.items()}
    array = np.asarray(observation)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array


def _scaled_space(space: Any) -> Any:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return spaces.Dict({k: _scaled_space(v) for k, v in space.spaces.items()})
    if isinstance(space, spaces.Box) and space.dtype == np.uint8:
        return spaces.Box(0.0, 1.0, space.shape, np.float32)
    return space


def image_scaler(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    """Env-to-module connectors: camera frames scaled to [0, 1]; Dict observations (several sensors) flattened."""
    from ray.rllib.connectors.env_to_module.flatten_observations import FlattenObservations
    from ray.rllib.connectors.env_to_module.observation_preprocessor import SingleAgentObservationPreprocessor

    class ScaleImages(SingleAgentObservationPreprocessor):
        def recompute_output_observation_space(self, input_observation_space: Any, input_action_space: Any) -> Any:
            return _scaled_space(input_observation_space)

        def preprocess(self, observation: Any, episode: Any) -> Any:
            return scale_observation(observation)

    from gymnasium import spaces as gym_spaces

    observation_space = getattr(env, "single_observation_space", None) or getattr(env, "observation_space", None)
    pieces = [ScaleImages()]
    if isinstance(observation_space, gym_spaces.Dict):
        pieces.append(FlattenObservations(multi_agent=False))
    return pieces


