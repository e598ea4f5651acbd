"""The data files that keep each backend's configuration schema (``config_keys.json`` beside the backend, generated
from its installed library by ``python -m <backend>.config_keys``, compared with it by a test): reading one, writing
one, and the keys of ``rl.training.config`` that are the job's, not an algorithm's."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Mapping

JOB_KEYS = ("env", "monitor")
"""RLlib 1.x's job-level keys inside ``rl.training.config``, which the hyperparameters take out before translating
(runtime.config.hyperparameters._rllib_1x_job_keys): not the algorithm's, so a quick check skips them."""


@functools.lru_cache(maxsize=None)
def read_schema_file(path: Path) -> Mapping[str, Any]:
    """The stored schemas in ``path``; ``{"algorithms": {}}`` where it is missing or unreadable (the quick check
    then finds nothing and the full check, with the library loaded, decides)."""
    try:
        schemas: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))  # write_schema_file's JSON object
        return schemas
    except (OSError, ValueError):
        return {"algorithms": {}}


def algorithm_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` (the ``rl.training.config.*`` the user gave) without the job-level keys (:data:`JOB_KEYS`)."""
    return {key: value for key, value in config.items() if key not in JOB_KEYS}


def write_schema_file(path: Path, content: Mapping[str, Any]) -> None:
    """Write generated schemas to ``path`` (stable: sorted keys), saying so on stderr."""
    path.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
