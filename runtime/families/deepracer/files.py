"""DeepRacer's job files (reward function, ``model_metadata.json``, ``training_params.yaml`` in the ``train``
channel) and the network its ``neural_network`` names."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from envs.deepracer.env import DeepRacerConfigError
from envs.deepracer.metadata import MetadataError
from envs.deepracer.reward import RewardFunctionError
from envs.deepracer.tracks import TrackError
from runtime.errors import UserError
from runtime.families.deepracer.dialect import ENV_SETTINGS, METADATA_FILE, REWARD_FILES, TRAINING_YAML
from runtime.names import CHANNEL_PRETRAINED
from runtime.train.warm_start import pretrained_checkpoint

log = logging.getLogger(__name__)

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
def s3_key(value: Any) -> str:
    """An S3 key as the seeds give it (``<prefix>/model/model_metadata.json`` or ``s3://bucket/<key>``), bucket-free."""
    text = str(value).strip()
    if text.startswith("s3://"):
        text = text[5:].partition("/")[2]
    return text.strip("/")


def prefix_root(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """The folder of the train channel that holds the ``s3_prefix`` content: the channel may hold the prefix folder
    itself (``<channel>/<prefix>/model/model_metadata.json``, the notebook's S3 layout under a bucket-wide channel) or
    its content (a channel pointed at ``s3://bucket/<prefix>``). UserError naming the prefix when it matches neither."""
    prefix = s3_key(extras.get("s3_prefix") or "")
    if train_dir is None:
        return None
    if not prefix:
        return _only_prefix_folder(train_dir)
    if (train_dir / prefix).is_dir():
        return train_dir / prefix
    own = (*REWARD_FILES, METADATA_FILE, f"model/{METADATA_FILE}", TRAINING_YAML)
    named = [
        _relative(s3_key(extras[k]), prefix)
        for k in ("model_metadata_s3_key", "reward_function_s3_source")
        if extras.get(k)
    ]
    if any((train_dir / name).is_file() for name in (*own, *named)):
        return train_dir
    held = ", ".join(sorted(p.name for p in train_dir.iterdir())[:10]) or "nothing"
    raise UserError(
        f"s3_prefix '{prefix}' matches nothing in the train channel {train_dir} (it holds: {held}): give "
        f"the channel the prefix folder ({prefix}/model/{METADATA_FILE}, {prefix}/"
        f"{REWARD_FILES[-1]}) or its content."
    )


def _holds_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in (*REWARD_FILES, METADATA_FILE, f"model/{METADATA_FILE}"))


def _only_prefix_folder(train_dir: Path) -> Path:
    """No ``s3_prefix`` given: the channel itself when it holds the files, else its one sub-folder that does (the
    notebook uploads them under ``<prefix>/``, and a channel pointed at the bucket holds that folder)."""
    if _holds_files(train_dir):
        return train_dir
    found = sorted(folder for folder in train_dir.iterdir() if folder.is_dir() and _holds_files(folder))
    return found[0] if len(found) == 1 else train_dir


def _relative(key: str, prefix: str) -> str:
    return key[len(prefix) + 1 :] if prefix and key.startswith(prefix + "/") else key


def _named_file(
    train_dir: Path | None, root: Path | None, extras: Mapping[str, Any], name: str, defaults: tuple[str, ...]
) -> Path | None:
    """The file the hyperparameter ``name`` gives as an S3 key, inside the train channel: the key itself, the key
    below ``s3_prefix`` in the prefix folder, its basename there (``defaults`` when not given). UserError listing
    where it looked when a given key is found nowhere."""
    given = extras.get(name)
    if not given:
        found = [root / d for d in defaults if root is not None and (root / d).is_file()]
        return found[0] if found else None
    key = s3_key(given)
    prefix = s3_key(extras.get("s3_prefix") or "")
    tried: list[Path] = []
    if train_dir is not None and root is not None:
        tried = [train_dir / key, root / _relative(key, prefix), root / Path(key).name]
        for path in tried:
            if path.is_file():
                return path
    looked = ", ".join(dict.fromkeys(str(p) for p in tried)) or "the job has no train channel"
    raise UserError(
        f"{name} '{given}' names '{Path(key).name}', but the train channel has no such file (looked at: "
        f"{looked}). Put the prefix folder or its content in the train channel."
    )


def find_reward_function(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """The reward function in the train channel: ``reward_function_s3_source`` (see :func:`_named_file`), else
    ``reward_function.py`` / ``customer_reward_function.py`` in the prefix folder."""
    return _named_file(train_dir, prefix_root(train_dir, extras), extras, "reward_function_s3_source", REWARD_FILES)


def find_metadata(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """model_metadata.json in the train channel: ``model_metadata_s3_key``, else ``model_metadata.json`` or
    ``model/model_metadata.json`` in the prefix folder."""
    return _named_file(
        train_dir,
        prefix_root(train_dir, extras),
        extras,
        "model_metadata_s3_key",
        (METADATA_FILE, f"model/{METADATA_FILE}"),
    )


def read_training_yaml(train_dir: Path | None) -> dict[str, Any]:
    """Environment settings from training_params.yaml (the RoboMaker YAML), lower-cased; other keys ignored."""
    if train_dir is None or not (train_dir / TRAINING_YAML).is_file():
        return {}
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
        return {
            "conv_filters": CNN_FILTERS[network],
            "conv_activation": "relu",
            "head_fcnet_hiddens": CNN_HEADS[network],
            "vf_share_layers": True,
        }
    return {"fcnet_hiddens": MLP_HIDDENS[network], "fcnet_activation": "tanh", "vf_share_layers": False}


def deepracer_errors(exc: BaseException) -> str | None:
    """The message of a DeepRacer user error anywhere in ``exc`` (also inside a Ray task error's text)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (RewardFunctionError, DeepRacerConfigError, MetadataError, TrackError)):
            return str(seen)
        seen = seen.__cause__ or getattr(seen, "cause", None) or seen.__context__
        if seen is exc:
            break
    matches = re.findall(r"(?:RewardFunctionError|DeepRacerConfigError|MetadataError|TrackError): (.+)", str(exc))
    return matches[-1].strip() if matches else None


def pretrained_model(train_dir: Path | None, extras: Mapping[str, Any]) -> tuple[Path, str] | None:
    """The previous model DeepRacer's ``pretrained_s3_bucket`` / ``pretrained_s3_prefix`` name, inside the train
    channel (``<channel>/<pretrained prefix>``, or its ``model/`` folder, holding a model folder, its model.tar.gz or
    checkpoints); None when no prefix is given. UserError naming the prefix when it matches nothing."""
    prefix = s3_key(extras.get("pretrained_s3_prefix") or "")
    if not prefix:
        return None
    named_by = f"pretrained_s3_prefix '{prefix}'"
    candidates = [train_dir / prefix, train_dir / prefix / "model"] if train_dir is not None else []
    problems = []
    for folder in candidates:
        if not folder.is_dir():
            continue
        try:
            pretrained_checkpoint(folder)
        except UserError as exc:
            problems.append(str(exc))
            continue
        return folder, named_by
    looked = ", ".join(str(c) for c in candidates) or "the job has no train channel"
    raise UserError(
        f"{named_by} (bucket {extras.get('pretrained_s3_bucket') or 'not given'}) matches no model (looked "
        f"at: {looked})" + (f": {problems[0]}" if problems else "") + ". Put the previous model's "
        f"folder or model.tar.gz under that prefix in the train channel, or pass it in the "
        f"'{CHANNEL_PRETRAINED}' channel."
    )
