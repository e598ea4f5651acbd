"""SageMaker RL's Coach launcher (``sagemaker_rl.coach_launcher``) in script mode: the Batch RL notebook's preset
name trains rlrt's preset for the problem; a Coach preset file in source_dir is refused naming that preset."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime.offline.collect import collect
from tests.jobs.test_sagemaker_rl_jobs import run_script_mode

COACH_SCRIPT = '''
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class BatchLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-ddqnbcq"


if __name__ == "__main__":
    BatchLauncher.train_main()
'''

TINY = {
    "save_model": 1,
    "evaluate_episodes": 2,
    "rl.training.config.n_steps_per_epoch": 40,
    "rl.training.config.batch_size": 32,
    "rl.training.config.evaluation_episodes": 2,
    "rl.training.config.fqe_steps": 10,
    "rl.training.config.hidden_units": [32, 32],
    "rl.training.stop.epochs": 1,
}


@pytest.mark.slow
def test_coach_launcher_trains_the_rlrt_preset_for_the_seed_name(tmp_path: Path) -> None:
    rollouts = tmp_path / "cartpole.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=1, output=rollouts, seed=0, progress=False)
    run, tree = run_script_mode(tmp_path, "train-coach.py", {"train-coach.py": COACH_SCRIPT}, TINY,
                                prepare=lambda t: shutil.copy(rollouts, t.channel("train") / "rollouts.csv"))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "preset cartpole-bcq" in output and (tree.model / "policy.onnx").is_file()


def test_a_coach_preset_file_in_source_dir_names_the_rlrt_preset(tmp_path: Path) -> None:
    files = {"train-coach.py": COACH_SCRIPT,
             "preset-cartpole-ddqnbcq.py": "from rl_coach.graph_managers.batch_rl_graph_manager import *\n"}
    run, tree = run_script_mode(tmp_path, "train-coach.py", files, TINY, timeout=120)
    # The script exits 2 with the reason in output/failure; sagemaker-training then exits 1, as on SageMaker.
    assert run.returncode == 1 and "ExitCode 2" in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]
    failure = tree.failure.read_text()
    assert "The Coach preset file preset-cartpole-ddqnbcq.py in source_dir cannot run" in failure
    assert "rlrt's preset 'cartpole-bcq' trains this problem" in failure
