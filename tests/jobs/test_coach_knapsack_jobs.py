"""SageMaker RL's knapsack Coach example (``rl_knapsack_coach_custom``) trains as its notebook launches it: its
byte-for-byte ``train-coach.py``, Clipped PPO preset and gym 0.2x environment (a ``Box`` of ``np.uint32`` with an
infinite bound) from source_dir; and the Mountain Car example's DQN preset on gym's own environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.jobs.test_sagemaker_rl_coach_jobs import COACH, evaluate_as_the_notebook
from tests.jobs.test_sagemaker_rl_jobs import run_script_mode
from tests.quiet_logs import gym_notice, unexpected_lines

KNAPSACK = COACH / "rl_knapsack_coach_custom" / "src"
KNAPSACK_FILES = (
    "train-coach.py",
    "preset-knapsack-clippedppo.py",
    "knapsack_env.py",
    "item.py",
    "capacity.py",
    "knapsack_baseline.py",
    "knapsack_view_2D.py",
)


def evaluation_lines(output: str) -> list[str]:
    """Coach's evaluation lines (the SDK's metric definition ``^Testing>.*Total reward=(.*?),``)."""
    return [line for line in output.splitlines() if line.startswith("Testing>") and "Total reward=" in line]


@pytest.mark.slow
def test_the_knapsack_preset_trains_its_uint32_environment_as_the_notebook_launches_it(tmp_path: Path) -> None:
    files = {name: (KNAPSACK / name).read_text() for name in KNAPSACK_FILES}
    run, tree = run_script_mode(
        tmp_path,
        "train-coach.py",
        files,
        {
            "RLCOACH_PRESET": "preset-knapsack-clippedppo",
            "rl.agent_params.algorithm.discount": 0.9,
            "rl.evaluation_steps:EnvironmentEpisodes": 8,
            "rl.improve_steps:TrainingSteps": 1,
            "save_model": 1,
        },
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "rlrt: training the Coach preset file preset-knapsack-clippedppo.py from source_dir (PPO on " in output
    assert any(line.startswith("Training>") and "Total reward=" in line for line in output.splitlines()), output[-3000:]
    assert len(evaluation_lines(output)) == 8, output[-3000:]  # rl.evaluation_steps:EnvironmentEpisodes = 8
    # gym 0.26 refuses the env's Box (uint32, an infinite bound): the era bridge takes the dtype's range, said once
    # by the launcher's process, which builds the env to check it before training.
    assert "rlrt: a gym.spaces.Box of uint32 with infinite bounds" in output
    assert unexpected_lines(output, expected=gym_notice()) == []
    assert (tree.model / "policy.onnx").is_file() and not tree.failure.exists()
    config = json.loads((tree.model / "config.json").read_text())
    settings = config["config"]
    assert config["env"] == "sagemaker_rl/knapsack_env.KnapSackMediumEnv"
    # The notebook's discount over the preset's 0.99; the preset's own network and PPO settings.
    assert settings["gamma"] == 0.9 and settings["lr"] == 0.0003 and settings["lambda"] == 0.95
    assert settings["model_config"]["fcnet_hiddens"] == [64, 64]
    assert settings["model_config"]["fcnet_activation"] == "tanh"
    assert settings["train_batch_size_per_learner"] == 2048 and settings["minibatch_size"] == 64
    assert settings["num_epochs"] == 10 and settings["clip_param"] == 0.2
    # The preset's ObservationNormalizationFilter: RLlib's MeanStdFilter, its statistics in the exported model.
    assert settings["observation_filter"] == "MeanStdFilter"
    assert "MeanStdFilter (baked in: takes raw observations)" in (tree.model / "metadata.json").read_text()
    assert config["stop"] == {"timesteps_total": 2000}  # TrainingSteps(1): one whole evaluation period
    # The notebook's second step: its evaluate-coach.py with evaluate_steps 250 ("5 episodes": 50 steps each) in
    # the preset's own environment, registered from source_dir as the training job registered it. No
    # RLCOACH_PRESET: the script's default_preset_name() names the preset, as its argparse default did.
    output, lengths = evaluate_as_the_notebook(
        tmp_path / "evaluate", KNAPSACK, KNAPSACK_FILES[1:], None, 250, tree.base
    )
    assert (
        "rlrt: the Coach preset preset-knapsack-clippedppo (from evaluate-coach.py's default_preset_name())" in output
    )
    assert "on sagemaker_rl/knapsack_env.KnapSackMediumEnv for 250 steps" in output and lengths == [50] * 5
