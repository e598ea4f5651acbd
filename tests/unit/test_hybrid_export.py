"""Continuous and discrete actions together (``Tuple((Box, Discrete | MultiDiscrete))``, ML-Agents' hybrid actions)
export and serve: one row per observation, the continuous actions then each discrete part's greedy action, checked
against RLlib's own deterministic action of the same module; the environment gets the row back as its tuple."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from runtime.export.checks import torch_outputs
from runtime.export.mlp import NotAnMLP
from runtime.export.policy import HYBRID, ActionHead, env_action, serving_model_of
from runtime.serving import codec
from tests.unit.test_multi_categorical_export import assert_exports_reproduce, ppo_module

BOX = spaces.Box(-1.0, 1.0, (2,), np.float32)
SPACES = {
    "two branches": spaces.Tuple((BOX, spaces.MultiDiscrete([3, 2]))),
    "one branch": spaces.Tuple((BOX, spaces.Discrete(3))),
}


@pytest.mark.parametrize("name", list(SPACES))
def test_the_served_row_is_rllibs_own_deterministic_action(name: str) -> None:
    import torch

    from runtime.backends.rllib.policy import serving_policy_from_parts

    space = SPACES[name]
    module = ppo_module(space)
    policy, head, _ = serving_policy_from_parts(module, None, normalize_actions=True)
    parts = [3, 2] if name == "two branches" else [3]
    assert head == ActionHead(
        HYBRID, 2, low=[-1.0, -1.0], high=[1.0, 1.0], normalized=True, parts=parts, starts=[0] * len(parts)
    )
    observations = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    actions, probabilities = torch_outputs(policy, observations)
    with torch.no_grad():  # RLlib's own: the module's inference, its distribution's deterministic sample
        inputs = module.forward_inference({"obs": torch.as_tensor(observations)})["action_dist_inputs"]
        continuous, discrete = module.get_inference_action_dist_cls().from_logits(inputs).to_deterministic().sample()
    np.testing.assert_allclose(actions[:, :2], np.clip(continuous.numpy(), -1.0, 1.0), atol=1e-6)
    np.testing.assert_array_equal(actions[:, 2:], discrete.numpy().reshape(64, -1))
    assert probabilities.shape == (64, sum(parts))
    np.testing.assert_allclose(probabilities[:, :3].sum(axis=1), 1.0, atol=1e-6)
    for row in actions[:5]:
        action = env_action(head, row)
        assert space.contains(action), action  # gymnasium's own check of the tuple the environment gets
        assert isinstance(action[1], int) == (name == "one branch")
    with pytest.raises(NotAnMLP, match="hybrid head"):  # the TensorFlow exporter knows one categorical head
        serving_model_of(policy, head, None).describe()


def test_torchscript_and_onnx_reproduce_the_torch_policy(tmp_path: Path) -> None:
    from runtime.backends.rllib.policy import serving_policy_from_parts

    policy, head, _ = serving_policy_from_parts(ppo_module(SPACES["two branches"], seed=1), None, True)
    assert_exports_reproduce(policy, head, tmp_path)


def test_other_mixed_spaces_are_refused_with_what_is_supported() -> None:
    from runtime.backends.rllib.policy import action_head
    from runtime.errors import UserError

    for space in (spaces.Tuple((spaces.Discrete(3), BOX)), spaces.Tuple((BOX, spaces.MultiDiscrete([3])))):
        with pytest.raises(UserError, match=r"Tuple\(1-D Box, Discrete or MultiDiscrete\)"):
            action_head(ppo_module(space), space, normalize_actions=True)


def test_a_head_reads_back_from_its_json_and_a_served_row_is_its_actions() -> None:
    head = ActionHead(HYBRID, 2, low=[-1.0, -1.0], high=[1.0, 1.0], normalized=True, parts=[3, 2], starts=[0, 1])
    assert ActionHead.from_json(head.to_json()) == head
    assert env_action(head, np.array([0.5, -0.25, 2.0, 1.0], np.float32))[1].tolist() == [2, 1]
    assert env_action(None, np.array(2)) == 2 and env_action(ActionHead("categorical", 3), np.array(1)) == 1
    outputs = {"actions": np.array([[0.5, -0.25, 2.0, 1.0]]), "action_probabilities": np.full((1, 5), 0.4)}
    assert codec.primary(outputs).tolist() == [[0.5, -0.25, 2.0, 1.0]]
    with pytest.raises(ValueError, match="discrete parts"):
        ActionHead(HYBRID, 2)
