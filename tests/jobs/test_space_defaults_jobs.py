"""`rlrt train --env ID` on an environment without a preset: PPO settings chosen from its spaces, said in one line
and kept with the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import run_rlrt


def test_an_env_without_a_preset_trains_with_the_settings_chosen_from_its_spaces(tmp_path: Path) -> None:
    run = run_rlrt(["train", "--env", "Acrobot-v1", "--base-dir", str(tmp_path / "job"),
                    "--set", "rl.training.stop.training_iteration=1", "--set", "record_video_every=0",
                    "--set", "rl.training.config.train_batch_size_per_learner=512"], cwd=tmp_path, timeout=600)
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
