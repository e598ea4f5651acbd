"""Training on Unity games end to end (``rlrt`` as a real process, RLlib env runners launching the stand-in player
from the job's ``train`` channel), and the job-level errors for a game that cannot be found."""

from __future__ import annotations

from pathlib import Path

import pytest
from unity_player.build import free_base_port, make_player

# What entrypoints/train-unity.py runs.
TRAIN_UNITY = ["train", "--default-preset", "unity-basic-ppo"]


def test_multi_agent_policies_for_unity_behaviors(tmp_path: Path) -> None:
    """How runtime.backends.rllib.config maps Unity agents onto RLlib policies (per behavior, or one shared policy)."""
    from runtime.errors import UserError
    from runtime.backends.rllib.algorithm import multi_agent_policies, policy_id_for
    from runtime.backends.rllib.validator import RLlibValidator

    player = make_player(tmp_path / "players", "3DBall", ["--game", "ball", "--agents", "2"])
    env_config = {"player": str(player), "base_port": free_base_port()}
    policies, mapping = multi_agent_policies("UnityMultiAgent", env_config, "per_group")
    assert policies == {"3DBall_team=0"} and policy_id_for("3DBall?team=0") == "3DBall_team=0"
    assert mapping("3DBall?team=0_11", None) == "3DBall_team=0"
    policies, mapping = multi_agent_policies("unity-multi:3DBall", env_config, "shared")
    assert policies == {"shared"} and mapping("3DBall?team=0_1", None) == "shared"
    problems = RLlibValidator().check("PPO", {"multi_agent_policies": "per_agent"})
    assert problems == ["'rl.training.config.multi_agent_policies' must be one of per_group, shared, got 'per_agent'"]
    with pytest.raises(UserError, match="does not exist"):
        multi_agent_policies("UnityMultiAgent", {"player": str(tmp_path / "missing.x86_64")})
