"""The preset a stock ``evaluate-coach.py`` names in ``default_preset_name()``, read from its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_rl.coach_evaluate import declared_preset
from tests.conftest import REPO_ROOT

COACH = REPO_ROOT.parent / "shared" / "coach"


@pytest.mark.parametrize(
    ("example", "preset"),
    [
        ("rl_knapsack_coach_custom", "preset-knapsack-clippedppo"),
        ("rl_cartpole_coach", "preset-cartpole-dqn"),
        ("rl_cartpole_batch_coach", "preset-cartpole-dqn"),
    ],
)
def test_the_examples_scripts_name_their_default_preset(example: str, preset: str) -> None:
    assert declared_preset(COACH / example / "src" / "evaluate-coach.py") == preset


def test_a_computed_name_a_missing_or_broken_script_names_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    computed = tmp_path / "evaluate-coach.py"
    computed.write_text(
        "import os\nclass L:\n    def default_preset_name(self):\n        return os.environ.get('P', 'preset-a')\n"
    )
    assert declared_preset(computed) is None
    assert "default_preset_name() computes its preset name" in capsys.readouterr().out
    assert declared_preset(tmp_path / "missing.py") is None
    (tmp_path / "broken.py").write_text("def default_preset_name(self):\n    return 'x\n")
    assert declared_preset(tmp_path / "broken.py") is None
    (tmp_path / "none.py").write_text("class L:\n    pass\n")
    assert declared_preset(tmp_path / "none.py") is None
