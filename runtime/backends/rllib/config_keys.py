"""RLlib's algorithms' configuration schemas kept as data (``config_keys.json``: every key and the kind of value it
takes, and the model settings'), so that a job names a key RLlib does not have, or a value of the wrong type or out
of range, within a second: before RLlib is imported (~4 s) and Ray started.

``config_keys.json`` is generated from the installed RLlib (``python -m runtime.backends.rllib.config_keys``) and a
test regenerates it and compares, so it cannot drift from the RLlib the lock installs. The quick check runs the full
check's own code (:mod:`runtime.backends.rllib.validator`) on the keys the user gave, with the stored schema in place
of RLlib's defaults: it says what the full check says about them, in the same words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from runtime.backends.rllib.schema import Schema
from runtime.backends.rllib.validator import check_config, live_schema, translate_config
from runtime.config.schema_file import algorithm_keys, read_schema_file, write_schema_file

KEYS_FILE = Path(__file__).with_name("config_keys.json")
ALGORITHMS = ("PPO", "APPO", "IMPALA", "DQN", "SAC", "BC", "MARWIL")
"""The algorithms whose schemas are kept: the ones SageMaker RL examples and rlrt's presets train with RLlib (CQL is
d3rlpy's)."""


def generate(algorithms: Iterable[str] = ALGORITHMS) -> dict[str, Any]:
    """The data file's content from the installed RLlib (imports it)."""
    import ray  # heavy: Ray and RLlib (~4 s), only to generate or verify the data

    schemas = {name: live_schema(name) for name in algorithms}
    return {
        "ray": ray.__version__,
        "algorithms": {name: dict(schema.kinds) for name, schema in schemas.items()},
        "model_config": dict(next(iter(schemas.values())).model) if schemas else {},
    }


def stored_schema(algorithm: str) -> Schema | None:
    """``algorithm``'s schema from ``config_keys.json``; None for an algorithm not stored."""
    kinds = (read_schema_file(KEYS_FILE).get("algorithms") or {}).get(algorithm)
    return Schema(kinds, read_schema_file(KEYS_FILE).get("model_config") or {}) if kinds else None


def quick_problems(algorithm: str, config: Mapping[str, Any]) -> list[str]:
    """The problems of ``config`` (the ``rl.training.config.*`` the user gave, nested as the hyperparameters nest
    them) for ``algorithm``, from the stored schema; [] for an algorithm not stored (the full check decides)."""
    schema = stored_schema(algorithm)
    if schema is None:
        return []
    given = algorithm_keys(config)
    translated, _, problems = translate_config(algorithm, given, schema, warn=False)
    return problems + check_config(algorithm, schema, translated)


if __name__ == "__main__":  # python -m runtime.backends.rllib.config_keys: write the data file
    write_schema_file(KEYS_FILE, generate())
