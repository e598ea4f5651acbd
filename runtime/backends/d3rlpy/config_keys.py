"""d3rlpy's algorithms' configuration schemas kept as data (``config_keys.json``: each algorithm's config class and
the kind of value each of its fields takes), so that an offline job names a key d3rlpy does not have, or a value of
the wrong type or out of range, at once: before d3rlpy and torch are imported (~3 s).

``config_keys.json`` is generated from the installed d3rlpy (``python -m runtime.backends.d3rlpy.config_keys``) and a
test regenerates it and compares, so it cannot drift from the d3rlpy the lock installs. The quick check runs the full
check's own code (:func:`runtime.backends.d3rlpy.config.check_config`) on the keys the user gave, with the stored
schema in place of d3rlpy's classes: it says what the full check says about them, in the same words (only whether
d3rlpy can build a factory value is left to the full check).
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from runtime.backends.d3rlpy.config import (
    ALGORITHMS,
    Schema,
    canonical_algorithm,
    check_config,
    live_schema,
    translate_config,
)
from runtime.backends.d3rlpy.library import import_d3rlpy
from runtime.config.schema_file import algorithm_keys, read_schema_file, write_schema_file

KEYS_FILE = Path(__file__).with_name("config_keys.json")


def generate(algorithms: Iterable[str] = tuple(ALGORITHMS)) -> dict[str, Any]:
    """The data file's content from the installed d3rlpy (imports it)."""
    import_d3rlpy()  # first, quietly (gym's notice, d3rlpy's INFO lines)
    import d3rlpy  # heavy: d3rlpy and torch (~3 s), only to generate or verify the data

    schemas = {name: live_schema(name) for name in algorithms}
    return {
        "d3rlpy": d3rlpy.__version__,
        "algorithms": {
            name: {"class": schema.class_name, "fields": dict(schema.kinds)} for name, schema in schemas.items()
        },
    }


def stored_schema(algorithm: str) -> Schema | None:
    """``algorithm``'s schema (any of its names) from ``config_keys.json``; None for an algorithm not stored."""
    stored = (read_schema_file(KEYS_FILE).get("algorithms") or {}).get(canonical_algorithm(algorithm) or algorithm)
    if not stored:
        return None
    return Schema(stored["class"], MappingProxyType(dict(stored["fields"])))


def quick_problems(algorithm: str, config: Mapping[str, Any]) -> list[str]:
    """The problems of ``config`` (the ``rl.training.config.*`` the user gave, nested as the hyperparameters nest
    them) for ``algorithm``, from the stored schema; [] for an algorithm not stored (the full check decides)."""
    schema = stored_schema(algorithm)
    if schema is None:
        return []
    given = algorithm_keys(config)
    translated, _, problems = translate_config(schema, given)
    return problems + check_config(schema, translated)


if __name__ == "__main__":  # python -m runtime.backends.d3rlpy.config_keys: write the data file
    write_schema_file(KEYS_FILE, generate())
