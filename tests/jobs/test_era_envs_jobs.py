"""A launcher script of the RLlib 1.x era trains unchanged on an environment of the gym 0.21 / NumPy 1 era
(tests/era_envs.py: ``np.int`` at import, ``EnvSpec`` without entry point, uint32 observations with an infinite
bound, ``reset() -> obs``, a four-tuple ``step``), its env runner a process of its own (Ray's worker set-up hook
gives it NumPy 1's names before the creator is unpickled, which imports the user's module)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.jobs.test_sagemaker_rl_jobs import TINY, run_script_mode
from tests.quiet_logs import gym_notice, unexpected_lines

ERA_ENVS = (Path(__file__).resolve().parents[1] / "era_envs.py").read_text()

SCRIPT = """
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


class Launcher(SageMakerRayLauncher):
    def register_env_creator(self):
        from era_envs import EraKnapsack
        register_env("EraKnapsack-v0", lambda config: EraKnapsack(config))

    def get_experiment_config(self):
        return {"training": {"env": "EraKnapsack-v0", "run": "PPO", "stop": {"training_iteration": 1},
                             "config": {"num_workers": 1}}}


if __name__ == "__main__":
    Launcher().train_main()
"""


@pytest.mark.slow
def test_an_era_launcher_trains_on_an_era_env(tmp_path: Path) -> None:
    run, tree = run_script_mode(
        tmp_path, "train-knapsack.py", {"train-knapsack.py": SCRIPT, "era_envs.py": ERA_ENVS}, TINY, timeout=400
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    for line in (
        "rlrt: NumPy 1 names NumPy 2 removed (np.int, np.float",
        "rlrt: a gym.spaces.Box of uint32 with infinite bounds",
        "rlrt: gym EnvSpec('EraKnapsack-v0') without entry_point",
        "observes a Box of uint32: its observations are cast to float32",
    ):
        assert line in output, output[-4000:]
    assert unexpected_lines(output, expected=gym_notice()) == []
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["serving"]["inputs"]["observations"]["shape"] == [None, 4]
