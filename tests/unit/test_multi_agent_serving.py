"""A multi-agent model folder serves one of its policies (``serving.policies``), chosen by ``RLRT_POLICY`` when it has
more than one; the chosen policy looks to the server exactly like a single-agent model."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.export.model_dir import is_export_output
from runtime.export.pipeline import _policy_folder, _under
from runtime.serving.model_store import select_policy

METADATA = {
    "observation_space": {
        "type": "Dict",
        "spaces": {"striker": {"type": "Box", "shape": [6]}, "goalie": {"type": "Box", "shape": [4]}},
    },
    "action_space": {
        "type": "Dict",
        "spaces": {"striker": {"type": "Discrete", "n": 3}, "goalie": {"type": "Discrete", "n": 2}},
    },
    "serving": {
        "policies": {
            "striker": {"onnx": "policies/striker/policy.onnx", "inputs": {"observations": {"shape": [None, 6]}}},
            "goalie": {"onnx": "policies/goalie/policy.onnx", "inputs": {"observations": {"shape": [None, 4]}}},
        }
    },
}


def test_a_single_agent_model_is_served_as_it_is() -> None:
    single = {"serving": {"onnx": "policy.onnx"}}
    assert select_policy(Path("m"), single) is single


def test_the_policy_named_by_rlrt_policy_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLRT_POLICY", "goalie")
    chosen = select_policy(Path("m"), METADATA)
    assert chosen["serving"]["onnx"] == "policies/goalie/policy.onnx" and chosen["policy_id"] == "goalie"
    assert chosen["observation_space"] == {"type": "Box", "shape": [4]}
    assert chosen["action_space"] == {"type": "Discrete", "n": 2}


def test_several_policies_and_none_named_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLRT_POLICY", raising=False)
    with pytest.raises(
        UserError,
        match=r"multi-agent with the policies striker, goalie: name the one to serve with "
        r"RLRT_POLICY=<policy id>",
    ):
        select_policy(Path("m"), METADATA)
    monkeypatch.setenv("RLRT_POLICY", "keeper")
    with pytest.raises(
        UserError,
        match=r"RLRT_POLICY='keeper': the model in m has no such policy; it has striker, "
        r"goalie",
    ):
        select_policy(Path("m"), METADATA)


def test_one_policy_needs_no_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLRT_POLICY", raising=False)
    one = {**METADATA, "serving": {"policies": {"striker": METADATA["serving"]["policies"]["striker"]}}}
    assert select_policy(Path("m"), one)["policy_id"] == "striker"


def test_policy_folders_and_paths() -> None:
    assert _policy_folder("3DBall_team=0") == "3DBall_team=0"
    assert _policy_folder("../a b/c") == "_a_b_c"
    assert _under(
        "policies/x",
        {
            "onnx": "policy.onnx",
            "code": "code/inference.py",
            "policy_spec": None,
            "tensorflow_savedmodel": {"path": "1/"},
        },
    ) == {
        "onnx": "policies/x/policy.onnx",
        "code": "policies/x/code/inference.py",
        "policy_spec": None,
        "tensorflow_savedmodel": {"path": "policies/x/1/"},
    }
    assert is_export_output("policies") and is_export_output("policy.onnx") and not is_export_output("checkpoint")
