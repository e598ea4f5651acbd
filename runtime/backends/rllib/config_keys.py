"""The configuration keys of RLlib's algorithms kept as data (``config_keys.json``), so that a job can name a key
RLlib does not have within a second, before RLlib is imported (~4 s) and Ray started (issue 28).

``config_keys.json`` is generated from the installed RLlib (``python -m runtime.backends.rllib.config_keys``) and a
test regenerates it and compares, so it cannot drift from the RLlib the lock installs. The quick check flags only
what the full check (:meth:`runtime.backends.rllib.config.RLlibValidator.check`, after RLlib is imported) refuses
as unknown, with the same words; everything else is left to it.
"""

from __future__ import annotations

import difflib
import functools
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from runtime.backends.rllib.config import (
    _FORBIDDEN_PREFIXES,
    FRAMEWORK_KEYS,
    MOVED_TO_MODEL_CONFIG,
    OLD_NAMES,
    OLD_NESTED,
    OLD_SCHEDULES,
    OWN_KEYS,
    default_config_dict,
)

KEYS_FILE = Path(__file__).with_name("config_keys.json")
ALGORITHMS = ("PPO", "APPO", "IMPALA", "DQN", "SAC", "BC", "MARWIL")
"""The algorithms whose keys are kept: the ones SageMaker RL examples and rlrt's presets train with RLlib (CQL is d3rlpy's)."""
TRANSLATED = frozenset({*FRAMEWORK_KEYS, *OLD_NESTED, *MOVED_TO_MODEL_CONFIG, *OLD_SCHEDULES, *OWN_KEYS, "horizon",
                        "model", "prioritized_replay", "optimization", "use_critic", "input", "output", "env",
                        "monitor", "batch_mode"})
"""Keys the validator translates or checks itself before asking RLlib's defaults."""


def generate(algorithms: Iterable[str] = ALGORITHMS) -> dict[str, Any]:
    """The data file's content from the installed RLlib (imports it)."""
    import ray  # heavy: Ray and RLlib (~4 s), only to generate or verify the data

    return {"ray": ray.__version__,
            "algorithms": {name: list(default_config_dict(name)) for name in algorithms}}  # RLlib's order: hints tie-break by it


@functools.lru_cache(maxsize=1)
def _stored() -> Mapping[str, Any]:
    try:
        return json.loads(KEYS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"algorithms": {}}


def quick_problems(algorithm: str, keys: Iterable[str]) -> list[str]:
    """The unknown ``rl.training.config.<key>`` problems of ``keys`` (top-level config keys as the user gave them)
    for ``algorithm``, from the stored keys; [] for an algorithm not stored (the full check decides)."""
    stored = (_stored().get("algorithms") or {}).get(algorithm)
    if not stored:
        return []
    defaults = set(stored)
    valid = [k for k in stored if not k.startswith(_FORBIDDEN_PREFIXES)] + list(OWN_KEYS)
    problems = []
    for key in keys:
        name = OLD_NAMES.get(key, key)
        if key in TRANSLATED or (name in defaults and not name.startswith(_FORBIDDEN_PREFIXES)):
            continue
        candidates = valid + list(OLD_NAMES) + list(OLD_SCHEDULES)
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        hint = f" Did you mean 'rl.training.config.{close[0]}'?" if close else ""
        problems.append(f"Unknown {algorithm} configuration key 'rl.training.config.{name}'.{hint}")
    return problems


if __name__ == "__main__":  # python -m runtime.backends.rllib.config_keys: write the data file
    KEYS_FILE.write_text(json.dumps(generate(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {KEYS_FILE}", file=sys.stderr)
