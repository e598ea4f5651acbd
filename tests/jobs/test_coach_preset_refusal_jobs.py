"""``rlrt train --preset src/preset-x.py`` of a Coach preset with a bad value or a misspelt ``--set``: the job fails
before anything starts (exit 2), and output/failure names the preset's own setting, its line or the ``--set`` that
gave it, and what is allowed; never the RLlib key it becomes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO_ROOT, run_rlrt

CARTPOLE = REPO_ROOT.parent / "shared" / "coach" / "rl_cartpole_coach" / "src"
PRESET = "preset-cartpole-clippedppo.py"


def test_a_bad_coach_setting_fails_the_job_in_the_presets_words(tmp_path: Path) -> None:
    text = (CARTPOLE / PRESET).read_text()
    assert "\nagent_params.algorithm.discount = 0.99\n" in text
    lines = text.replace("\nagent_params.algorithm.discount = 0.99\n", "\nagent_params.algorithm.discount = 1.5\n")
    (tmp_path / PRESET).write_text(lines)
    number = lines.splitlines().index("agent_params.algorithm.discount = 1.5") + 1
    run = run_rlrt(["train", "--base-dir", str(tmp_path / "job"), "--preset", str(tmp_path / PRESET)], timeout=120)
    failure = (tmp_path / "job" / "output" / "failure").read_text()
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    assert failure.startswith(
        f"The Coach preset file {PRESET} in source_dir cannot run: "
        "'agent_params.algorithm.discount' must be a number in [0, 1], got 1.5 "
        f"({PRESET}, line {number}). "
    ), failure
    assert "gamma" not in failure
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / PRESET).write_text(text)
    run = run_rlrt(
        [
            "train",
            "--base-dir",
            str(tmp_path / "set"),
            "--preset",
            str(tmp_path / "src" / PRESET),
            "--set",
            "rl.agent_params.algorithm.optimisation_epochs=3",
        ],
        timeout=120,
    )
    failure = (tmp_path / "set" / "output" / "failure").read_text()
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    assert (
        "The hyperparameter rl.agent_params.algorithm.optimisation_epochs names nothing the preset's graph "
        "manager holds: agent_params.algorithm (ClippedPPOAlgorithmParameters) has no setting "
        "'optimisation_epochs'. Did you mean rl.agent_params.algorithm.optimization_epochs?" in failure
    ), failure
