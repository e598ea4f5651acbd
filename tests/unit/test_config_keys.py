"""RLlib's configuration keys kept as data (``runtime/backends/rllib/config_keys.json``): the stored file is what the
installed RLlib gives (so it cannot drift), and the quick check before RLlib loads names exactly the unknown keys the
full check names, in the same words (issue 28: a typo named within a second, not after Ray started)."""

from __future__ import annotations

import json
import re

import pytest

from runtime.backends.rllib.config import OLD_NAMES
from runtime.backends.rllib.config_keys import ALGORITHMS, KEYS_FILE, generate, quick_problems
from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.plugins import INSTALLED


def test_the_stored_keys_are_the_installed_rllibs() -> None:
    stored = json.loads(KEYS_FILE.read_text())
    assert stored == generate(), "regenerate: python -m runtime.backends.rllib.config_keys"


def _full_check_unknown(algorithm: str, keys: list[str]) -> list[str]:
    """The full check's unknown-key problems for ``keys`` (each set to a value of the default's kind)."""
    given = {"preset": "cartpole-ppo", "rl.training.run": algorithm,
             **{f"rl.training.config.{k}": 1 for k in keys}}
    try:
        hp.resolve(given, INSTALLED.validator_for, num_cpus=2)
    except UserError as exc:
        return sorted(re.findall(r"(Unknown \w+ configuration key '[^']+'\.(?: Did you mean '[^']+'\?)?)", str(exc)))
    return []


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if INSTALLED.backend_for(a).name == "rllib"])
def test_the_quick_check_names_what_the_full_check_names(algorithm: str) -> None:
    """Typos and keys of other algorithms: the same problems, word for word; a key the validator translates (an
    RLlib 1.x name such as ``buffer_size``) is left to the full check, never flagged first."""
    plain = ["lrr", "gamma", "train_batch_sise", "lr", "callbacks", "_private", "entropy_coef", "tau", "twin_q",
             "rollout_fragment_lenght", "clip_param", "vtrace", "num_steps_sampled_before_learning_starts"]
    translated = ["num_sgd_iter", "sgd_minibatch_size", "num_workers", "model_config", "observation_filter", "horizon",
                  "buffer_size", "prioritized_replay_alpha", *list(OLD_NAMES)]
    assert sorted(quick_problems(algorithm, plain)) == _full_check_unknown(algorithm, plain)
    quick = quick_problems(algorithm, translated)
    assert set(quick) <= set(_full_check_unknown(algorithm, translated))
    assert not any("buffer_size" in p or "horizon" in p or "model_config" in p for p in quick)


def test_an_algorithm_without_stored_keys_is_left_to_the_full_check() -> None:
    assert quick_problems("DreamerV3", ["anything"]) == []
