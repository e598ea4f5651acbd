"""`rlrt train --env ID` on an environment without a preset: PPO settings chosen from its spaces, said in one line
and kept with the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from tests.conftest import run_rlrt


def test_an_env_without_a_preset_trains_with_the_settings_chosen_from_its_spaces(tmp_path: Path) -> None:
    run = run_rlrt(
        [
            "train",
            "--env",
            "Acrobot-v1",
            "--base-dir",
            str(tmp_path / "job"),
            "--set",
            "rl.training.stop.training_iteration=1",
            "--set",
            "record_video_every=0",
            "--set",
            "rl.training.config.train_batch_size_per_learner=512",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    [line] = [x for x in output.splitlines() if x.startswith("rlrt: PPO settings from Acrobot-v1's spaces")]
    assert "num_envs_per_env_runner=16" in line and "observation_filter=MeanStdFilter" in line, line
    assert "train_batch_size_per_learner" not in line  # the user's own value is not listed as chosen
    config = json.loads((tmp_path / "job" / "model" / "config.json").read_text())["config"]
    assert config["num_envs_per_env_runner"] == 16 and config["num_epochs"] == 4 and config["minibatch_size"] == 64
    assert config["train_batch_size_per_learner"] == 512
    with (tmp_path / "job" / "output" / "intermediate" / "progress.csv").open() as handle:
        [row] = list(csv.DictReader(handle))
    assert 512 <= int(float(row["timesteps_total"])) < 4096
    # 512 steps over 16 Acrobots is 32 each, and its episodes last up to 500: none ends, which one line says, and
    # the closing summary names no learning curve (none is drawn without an episode).
    assert int(row["episodes_total"]) == 0
    assert_no_episode_said_once(output, "Acrobot-v1", 16, 500)
    assert_outputs_exist(output)
    assert not (tmp_path / "job" / "output" / "intermediate" / "learning_curve.png").exists()


def test_another_algorithm_than_the_presets_takes_its_own_settings(tmp_path: Path) -> None:
    """`rlrt train --env Acrobot-v1 --algo dqn` (the --help example): DQN with RL Zoo's DQN settings for the spaces,
    none of the default preset's PPO settings, and the record says so."""
    run = run_rlrt(
        [
            "train",
            "--env",
            "Acrobot-v1",
            "--algo",
            "dqn",
            "--base-dir",
            str(tmp_path / "job"),
            "--set",
            "rl.training.stop.training_iteration=1",
            "--set",
            "record_video_every=0",
            "--set",
            "rl.training.config.min_sample_timesteps_per_iteration=100",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    recorded = yaml.safe_load((tmp_path / "job" / "model" / "config.yaml").read_text())
    assert (recorded["algorithm"], recorded["preset"]) == ("DQN", "space-defaults/DQN-discrete")
    config = recorded["config"]  # RL Zoo's dqn.yml, Acrobot-v1; not CartPole-PPO's lr schedule, gamma 0.98, 32 envs
    assert (config["lr"], config["gamma"], config["train_batch_size_per_learner"]) == (2.5e-4, 0.99, 512)
    assert config["num_envs_per_env_runner"] == 1 and "num_epochs" not in config and "clip_param" not in config
    assert "preset: cartpole-ppo" not in (tmp_path / "job" / "model" / "config.yaml").read_text()
    assert json.loads((tmp_path / "job" / "model" / "metadata.json").read_text())["preset"] == recorded["preset"]
    [line] = [x for x in output.splitlines() if x.startswith("rlrt: preset cartpole-ppo is for PPO")]
    assert "this DQN job takes its environment and stop criteria, not its settings" in line
    with (tmp_path / "job" / "output" / "intermediate" / "progress.csv").open() as handle:
        [row] = list(csv.DictReader(handle))
    assert int(row["episodes_total"]) == 0 and int(float(row["timesteps_total"])) < 500
    assert_no_episode_said_once(output, "Acrobot-v1", 1, 500)
    assert_outputs_exist(output)


def assert_no_episode_said_once(output: str, env: str, envs: int, limit: int) -> None:
    lines = [x for x in output.splitlines() if x.startswith(f"rlrt: no episode of {env} has ended")]
    assert len(lines) == 1, lines
    assert f"over {envs} environment(s)" in lines[0] and f"its episodes last up to {limit} steps" in lines[0], lines
    assert "train_batch_size_per_learner" in lines[0] and "num_envs_per_env_runner" in lines[0]


def assert_outputs_exist(output: str) -> None:
    """Every file or folder the closing "rlrt: outputs:" lines name is there (a folder: not empty)."""
    lines = output.splitlines()
    start = lines.index("rlrt: outputs:")
    named = [line.strip() for line in lines[start + 1 :] if line.startswith("  ")]
    assert named, lines[start:]
    for line in named:
        what, folder = line.rsplit(": ", 1)
        assert Path(folder).is_dir() and any(Path(folder).iterdir()), line
        for name in (n.strip() for n in what.split(",")):
            if name.endswith((".csv", ".png")):
                assert (Path(folder) / name).is_file(), line
