"""Advice fits the caller: a SageMaker (or ``docker run``) job's failure names the estimator's hyperparameters, never
``rlrt train``'s options, which its user cannot give; and a huge value a user gave is cut in the message, not echoed
whole into the log and the failure file. Each job fails at its hyperparameter check (seconds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, make_job_tree, rlrt_env

HUGE = 1_000_000


def container_train(base: Path) -> subprocess.CompletedProcess[str]:
    env = rlrt_env(base)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "entrypoints" / "container.py"), "train"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=base,
    )


def test_a_container_jobs_bad_hyperparameters_are_fixed_in_the_estimator_and_huge_values_cut(tmp_path: Path) -> None:
    """Before: the failure ended with "... not on this command line (in a tree an earlier `rlrt train` made, each
    run's --set is kept there ...) ... (another --base-dir)", and the 1 MB preset name was in it whole, twice."""
    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.lrr": 0.1, "preset": "x" * HUGE})
    run = container_train(tree.base)
    assert run.returncode == 2, (run.stdout + run.stderr)[-3000:]
    failure = tree.failure.read_text()
    assert len(failure) < 2000 and len(run.stdout + run.stderr) < 20_000
    assert f"Unknown preset '{'x' * 199}... ({HUGE + 3} characters) Available presets: " in failure  # 'x...x'.
    tree = make_job_tree(tmp_path / "ml2", {"rl.training.config.lrr": 0.1})
    run = container_train(tree.base)
    failure = tree.failure.read_text()
    assert run.returncode == 2 and "Unknown PPO configuration key 'rl.training.config.lrr'" in failure
    assert failure.rstrip().endswith(
        "Fix it in the estimator's hyperparameters (SageMaker writes them to "
        f"{tree.base / 'input' / 'config' / 'hyperparameters.json'})."
    )
    assert "--set" not in failure and "rlrt train" not in failure and "--base-dir" not in failure
