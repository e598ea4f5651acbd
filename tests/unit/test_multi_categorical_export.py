"""Several discrete action parts (``MultiDiscrete``, a ``Tuple`` of ``Discrete``) export and serve: one greedy action
per part (``actions``: ``[batch, parts]``) and each part's probabilities, concatenated (``action_probabilities``:
``[batch, sum of the parts' sizes]``), the same from torch, TorchScript and ONNX; served, a row's prediction is its
actions (a list per row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from runtime.export.checks import compare_outputs, torch_outputs
from runtime.export.mlp import NotAnMLP
from runtime.export.policy import MULTI_CATEGORICAL, ActionHead, build_serving_policy, serving_model_of
from runtime.serving import codec

PARTS, STARTS = [2, 3, 4], [0, 1, -2]


def multi_policy() -> object:
    import torch

    torch.manual_seed(0)
    head = ActionHead(MULTI_CATEGORICAL, sum(PARTS), parts=PARTS, starts=STARTS)
    return build_serving_policy(torch.nn.Linear(5, sum(PARTS)), 5, head, None), head


def test_each_part_gets_its_own_argmax_and_softmax() -> None:
    import torch

    policy, head = multi_policy()
    observations = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    actions, probabilities = torch_outputs(policy, observations)
    with torch.no_grad():
        logits = policy.body(torch.as_tensor(observations)).numpy()
    assert actions.shape == (7, 3) and probabilities.shape == (7, 9)
    offset = 0
    for index, (size, start) in enumerate(zip(PARTS, STARTS)):
        part = logits[:, offset : offset + size]
        np.testing.assert_array_equal(actions[:, index], part.argmax(axis=1) + start)
        expected = np.exp(part - part.max(axis=1, keepdims=True))
        np.testing.assert_allclose(
            probabilities[:, offset : offset + size],
            expected / expected.sum(axis=1, keepdims=True),
            rtol=1e-5,
            atol=1e-6,
        )
        offset += size
    assert head.to_json()["parts"] == PARTS and head.to_json()["starts"] == STARTS
    with pytest.raises(NotAnMLP):  # the plain-layer (TensorFlow) exporters know a single categorical head only
        serving_model_of(policy, head, None).describe()


def test_torchscript_and_onnx_reproduce_the_torch_policy(tmp_path: Path) -> None:
    assert_exports_reproduce(*multi_policy(), tmp_path)


def assert_exports_reproduce(policy: object, head: ActionHead, tmp_path: Path) -> None:
    """TorchScript and ONNX give the torch serving ``policy``'s outputs (on 5 observations)."""
    import torch

    from runtime.export.onnx_export import export_onnx, onnx_outputs
    from runtime.export.torchscript_export import export_torchscript

    observations = np.random.default_rng(1).normal(size=(16, 5)).astype(np.float32)
    expected = torch_outputs(policy, observations)
    export_onnx(policy, 5, head, tmp_path / "policy.onnx")
    compare_outputs("onnx", head, onnx_outputs(tmp_path / "policy.onnx", observations), expected)
    export_torchscript(policy, 5, tmp_path / "policy.pt")
    loaded = torch.jit.load(str(tmp_path / "policy.pt"))
    compare_outputs("torchscript", head, torch_outputs(loaded, observations), expected)


def test_the_rllib_head_of_multidiscrete_and_tuple_actions() -> None:
    from runtime.backends.rllib.policy import action_head

    for space in (
        spaces.MultiDiscrete([2, 3, 4], start=[0, 1, -2]),
        spaces.Tuple([spaces.Discrete(2), spaces.Discrete(3, start=1), spaces.Discrete(4, start=-2)]),
    ):
        module = ppo_module(space)
        head = action_head(module, space, normalize_actions=False)
        assert head == ActionHead(MULTI_CATEGORICAL, 9, parts=PARTS, starts=STARTS), space


def ppo_module(action_space: spaces.Space, seed: int = 0) -> object:
    """RLlib's default PPO module over 5 observations and ``action_space`` (its weights drawn from ``seed``)."""
    import torch
    from ray.rllib.algorithms.ppo import PPOConfig

    torch.manual_seed(seed)
    config = PPOConfig()
    spec = config.get_default_rl_module_spec()
    spec.observation_space = spaces.Box(-1.0, 1.0, (5,), np.float32)
    spec.action_space = action_space
    spec.model_config = config.model_config
    return spec.build()


def test_a_served_row_is_its_list_of_actions() -> None:
    outputs = {"actions": np.array([[1, 2, -2], [0, 3, 1]]), "action_probabilities": np.full((2, 9), 1 / 3)}
    assert codec.primary(outputs).tolist() == [[1, 2, -2], [0, 3, 1]]
    single = {"actions": np.array([1, 0]), "action_probabilities": np.array([[0.2, 0.8], [0.6, 0.4]])}
    assert codec.primary(single).tolist() == [[0.2, 0.8], [0.6, 0.4]]  # one discrete part: its probabilities
