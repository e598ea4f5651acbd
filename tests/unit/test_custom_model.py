"""RLlib 1.x's ``model.custom_model`` (the SageMaker RL resource-allocation examples' ``"action_mask"`` model): kept
through the hyperparameter check until the environment is known; on observations that carry an action mask RLlib's
masking module replaces it, anywhere else it is refused naming the model and what to do instead."""

from __future__ import annotations

import pytest

from runtime.backends.rllib.algorithm import build_algorithm_config
from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.plugins import INSTALLED


def spec_with(model: dict[str, object]) -> TrainingSpec:
    """A PPO spec whose experiment's old ``model`` dict is ``model`` (as a launcher script's experiment gives it)."""
    params = {
        "rl.training.env": "CartPole-v1",
        "rl.training.run": "PPO",
        "rl.training.config.model": model,
        "rl.training.config.num_env_runners": 0,
    }
    return hp.resolve(params, INSTALLED.validator_for, num_cpus=2)


def test_the_custom_model_is_kept_for_the_environment_to_decide() -> None:
    spec = spec_with({"custom_model": "action_mask", "custom_model_config": {"low": 0}, "fcnet_hiddens": [32]})
    assert spec.config["custom_model"] == "action_mask" and spec.config["custom_model_config"] == {"low": 0}
    assert spec.config["model_config"]["fcnet_hiddens"] == [32]
    masked = build_algorithm_config(spec, "CartPole-v1", action_mask=True)
    assert "custom_model" not in masked.to_dict() and masked.get_rl_module_spec().model_config["fcnet_hiddens"] == [32]


def test_a_custom_model_on_an_environment_without_an_action_mask_is_refused_naming_it() -> None:
    with pytest.raises(UserError) as refused:
        build_algorithm_config(spec_with({"custom_model": "attention"}), "CartPole-v1", env_id="CartPole-v1")
    message = str(refused.value)
    assert "'rl.training.config.model.custom_model' names 'attention', an RLlib 1.x custom model" in message
    assert "model_config" in message and "Porting a custom model" in message
    assert "CartPole-v1's observations have none" in message
