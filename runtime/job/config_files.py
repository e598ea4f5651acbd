"""The job's configuration files under ``input/config``, checked before sagemaker-training reads them.

sagemaker-training assumes well-formed files: a syntax error surfaces as a bare ``JSONDecodeError`` and a file that
is not a JSON object (``[1, 2]``) as an ``AttributeError`` deep inside it. Here each file is parsed and its shape
checked first, so every such mistake is a :class:`~runtime.errors.UserError` naming the file (and, for a syntax
error, the line and column).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from runtime.config.values import decode_value
from runtime.errors import UserError
from runtime.names import HYPERPARAMETERS_JSON, INPUT_DATA_CONFIG_JSON, RESOURCE_CONFIG_JSON


def _kind(value: Any) -> str:
    """How JSON calls the type of ``value``: an array, a string, a number, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    names: dict[type, str] = {list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; a :class:`UserError` naming the file when it cannot be read, is not valid JSON
    (with the line and column of the error) or holds something other than an object."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start}): write it as JSON in UTF-8.") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    if not text.strip():
        raise UserError(f"{path} is empty: it must hold a JSON object, e.g. {{}}.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        line = text.splitlines()[exc.lineno - 1] if exc.lineno - 1 < len(text.splitlines()) else ""
        shown = f": {line.strip()[:80]!r}" if line.strip() else ""
        raise UserError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}{shown}."
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object ({{...}}), but it holds {_kind(data)}.")
    return data


def read_hyperparameters_file(path: Path) -> dict[str, Any]:
    """The hyperparameters a ``--hyperparameters FILE`` gives: ``rlrt tune``'s ``best_hyperparameters.json`` (its
    ``hyperparameters``), a SageMaker ``hyperparameters.json`` (values JSON-encoded as the SDK writes them) or a plain
    JSON object of hyperparameters; a :class:`UserError` naming the file otherwise (a YAML file: pointing to
    ``--preset FILE``, which takes a preset or an RL Zoo hyperparameter file)."""
    try:
        data = read_json_object(path)
    except UserError:
        if not _is_yaml(path):
            raise
        raise UserError(
            f"{path} is YAML, and --hyperparameters takes a JSON object of hyperparameters (`rlrt tune`'s "
            "best_hyperparameters.json, a SageMaker hyperparameters.json). A preset or an RL Zoo "
            f"hyperparameter file (ppo.yml) is given with --preset: rlrt train --preset {path}"
        ) from None
    if isinstance(data.get("hyperparameters"), dict) and "objective_metric_name" in data:
        data = data["hyperparameters"]
    return {str(key): decode_value(value) if isinstance(value, str) else value for key, value in data.items()}


def _is_yaml(path: Path) -> bool:
    """Whether ``path`` is a YAML file: named so, or a YAML mapping that is not JSON (a file opening with ``{`` is
    meant as JSON, and its syntax error is the one to name)."""
    if path.suffix.lower() in (".yml", ".yaml"):
        return True
    try:
        text = path.read_text(encoding="utf-8")
        return not text.lstrip().startswith("{") and isinstance(yaml.safe_load(text), dict)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False


def check_resource_config(path: Path, data: Mapping[str, Any]) -> None:
    """``resourceconfig.json``: ``current_host`` a host name, ``hosts`` a non-empty list of host names."""
    host = data.get("current_host")
    if "current_host" in data and (not isinstance(host, str) or not host):
        raise UserError(f"{path}: 'current_host' must be a host name (a string such as \"algo-1\"), got {_kind(host)}.")
    hosts = data.get("hosts")
    if "hosts" in data and (
        not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts)
    ):
        raise UserError(
            f'{path}: \'hosts\' must be a non-empty list of host names (e.g. ["algo-1", "algo-2"]), '
            f"got {_kind(hosts) if not isinstance(hosts, list) else json.dumps(hosts)[:100]}."
        )


def check_input_data_config(path: Path, data: Mapping[str, Any]) -> None:
    """``inputdataconfig.json``: every channel maps to an object (e.g. ``{"TrainingInputMode": "File"}``)."""
    for channel, config in data.items():
        if not isinstance(config, dict):
            raise UserError(
                f"{path}: channel '{channel}' must map to an object such as "
                f'{{"TrainingInputMode": "File"}}, got {_kind(config)}.'
            )


def read_config_files(config_dir: Path) -> dict[str, dict[str, Any]]:
    """Parse and check the job's configuration files in ``config_dir``; returns them by file name.

    ``hyperparameters.json`` and ``resourceconfig.json`` must exist (the caller checks); ``inputdataconfig.json`` is
    optional (a job without input channels). Hyperparameter values may be anything: sagemaker-training decodes the
    ones that are JSON-encoded strings and keeps the others as they are.
    """
    files = {name: read_json_object(config_dir / name) for name in (HYPERPARAMETERS_JSON, RESOURCE_CONFIG_JSON)}
    check_resource_config(config_dir / RESOURCE_CONFIG_JSON, files[RESOURCE_CONFIG_JSON])
    data_config = config_dir / INPUT_DATA_CONFIG_JSON
    if data_config.is_file():
        files[INPUT_DATA_CONFIG_JSON] = read_json_object(data_config)
        check_input_data_config(data_config, files[INPUT_DATA_CONFIG_JSON])
    return files
