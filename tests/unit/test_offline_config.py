"""Offline hyperparameters: rl.training.config.* -> d3rlpy config fields, offline stop keys, and that backends without
extra stop keys (online RLlib) keep rejecting them."""

from __future__ import annotations

from typing import Any, Mapping

import pytest

from runtime.backends.d3rlpy.config import D3rlpyValidator, is_offline_algorithm, split_config
from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.plugins import INSTALLED

_validator = INSTALLED.validator_for


class _OnlineLikeValidator(hp.ConfigValidator):
    """A backend with no extra stop keys (as RLlibValidator): accepts any config."""

    def translate(self, algorithm: str, config: Mapping[str, Any]):
        return dict(config), {}, []

    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        return []

    def sizes_env_runners(self, algorithm: str) -> bool:
        return False


def test_jobs_picks_the_d3rlpy_backend_for_offline_algorithms() -> None:
    assert isinstance(_validator("DiscreteBCQ"), D3rlpyValidator)
    assert isinstance(_validator("bcq"), D3rlpyValidator)
    assert is_offline_algorithm("DDQN_BCQ") and not is_offline_algorithm("PPO")


def test_offline_config_maps_onto_d3rlpy_fields() -> None:
    spec = hp.resolve(
        {
            "RLCOACH_PRESET": "preset-cartpole-ddqnbcq",
            "rl.training.config.discount": 0.97,
            "rl.training.config.num_steps_between_copying_online_weights_to_target": 500,
            "rl.training.config.batch_size": 64,
            "rl.training.config.observation_scaler": "min_max",
            "rl.training.config.hidden_units": [32, 16],
            "rl.training.stop.gradient_steps": 5000,
            "rl.training.stop.time_total_s": 60,
        },
        _validator,
    )
    assert spec.algorithm == "DiscreteBCQ" and spec.env == "CartPole-v0"
    assert spec.stop["gradient_steps"] == 5000 and spec.stop["time_total_s"] == 60
    config, own = split_config(spec.algorithm, spec.config)
    assert config.gamma == 0.97 and config.target_update_interval == 500 and config.batch_size == 64
    assert type(config.observation_scaler).__name__ == "MinMaxObservationScaler"
    assert config.encoder_factory.hidden_units == [32, 16]
    assert own["n_steps_per_epoch"] == 250  # the preset's


def test_offline_config_problems_name_the_key() -> None:
    with pytest.raises(UserError) as info:
        hp.resolve(
            {
                "preset": "cartpole-bcq",
                "rl.training.config.gama": 0.9,
                "rl.training.config.batch_size": "big",
                "rl.training.config.gamma": 1.5,
                "rl.training.config.q_func_factory": "nonsense",
                "rl.training.config.select_by": "best",
            },
            _validator,
        )
    message = str(info.value)
    assert "'rl.training.config.gama'. Did you mean 'gamma'?" in message
    assert "'batch_size' must be an integer" in message
    assert "'select_by' must be one of last, ope_sdr" in message
    # Type problems are reported first; a config that type-checks is then built by d3rlpy.
    with pytest.raises(UserError, match=r"'gamma' must be in \(0, 1\]"):
        hp.resolve({"preset": "cartpole-bcq", "rl.training.config.gamma": 1.5}, _validator)
    with pytest.raises(UserError, match=r"'q_func_factory': d3rlpy cannot build"):
        hp.resolve({"preset": "cartpole-bcq", "rl.training.config.q_func_factory": "nonsense"}, _validator)


def test_offline_stop_keys_only_for_backends_that_know_them() -> None:
    spec = hp.resolve({"preset": "cartpole-bcq", "rl.training.stop.epochs": 4}, _validator)
    assert spec.stop["epochs"] == 4
    with pytest.raises(UserError, match=r"Unknown stop criterion 'rl.training.stop.epochs'"):
        hp.resolve(
            {"preset": "cartpole-bcq", "rl.training.stop.epochs": 4}, lambda a, backend=None: _OnlineLikeValidator()
        )
    with pytest.raises(UserError, match=r"'rl.training.stop.epochs' must be an integer >= 1"):
        hp.resolve({"preset": "cartpole-bcq", "rl.training.stop.epochs": 0}, _validator)
    # The common keys still work (and are checked) for every backend; a preset's own stop keys are checked too,
    # so the offline preset's 'epochs' is refused by a backend without it.
    spec = hp.resolve(
        {"preset": "cartpole-ppo", "rl.training.stop.training_iteration": 3},
        lambda a, backend=None: _OnlineLikeValidator(),
    )
    assert spec.stop["training_iteration"] == 3
    with pytest.raises(UserError, match=r"preset cartpole-bcq: unknown stop criterion 'epochs'"):
        hp.resolve({"preset": "cartpole-bcq"}, lambda a, backend=None: _OnlineLikeValidator())
