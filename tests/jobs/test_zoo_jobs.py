"""An RL Baselines3 Zoo hyperparameter file trains as a preset through the real ``rlrt train``: the job's
environment picks the file's section, the resolved configuration saved beside the model is the Zoo's settings in
RLlib's names, and what has no counterpart is named in the log."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import make_job_tree, run_rlrt

ZOO = Path(__file__).resolve().parents[1] / "data" / "zoo"


def test_the_zoos_ppo_file_trains_its_cartpole_section(tmp_path: Path) -> None:
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "preset": str(ZOO / "ppo.yml"),
            "rl.training.env": "CartPole-v1",
            "rl.training.stop.training_iteration": 1,
            "record_video_every": 0,
        },
    )
    run = run_rlrt(["train"], base=tree.base, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rlrt: RL Zoo ppo.yml, CartPole-v1: clip_range='lin_0.2': RLlib's PPO keeps clip_param at 0.2" in run.stderr
    assert "(preset ppo-CartPole-v1)" in run.stdout + run.stderr
    config = json.loads((tree.model / "config.json").read_text())
    assert config["preset"] == "ppo-CartPole-v1" and config["env"] == "CartPole-v1"
    assert config["config"]["lr"] == [[0, 0.001], [100000, 0.0]] and config["config"]["num_epochs"] == 20
    assert config["stop"] == {"timesteps_total": 100000, "training_iteration": 1}
    assert (tree.model / "policy.onnx").is_file()
