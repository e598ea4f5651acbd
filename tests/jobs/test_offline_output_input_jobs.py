"""RLlib 1.x's offline-data settings on rlrt (issue 29): ``output`` on an online job writes every finished episode in
the rollout format, with the behaviour policy's probabilities; ``input`` naming that folder trains an offline
algorithm (d3rlpy) on it; ``input`` with an online algorithm fails at once naming the offline ones."""

from __future__ import annotations

import json
import re
import time

import pandas as pd
import pytest

from tests.conftest import make_job_tree, run_rlrt


@pytest.mark.slow
def test_output_writes_the_episodes_and_input_trains_an_offline_algorithm_on_them(tmp_path) -> None:
    online = make_job_tree(tmp_path / "online", {
        "rl.training.config.output": "logdir", "rl.training.stop.training_iteration": 2,
        "rl.training.config.train_batch_size": 400, "rl.training.config.num_workers": 1, "record_video_every": 0})
    run = run_rlrt(["train"], base=online.base, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    folder = online.intermediate / "rollouts"
    assert f"every finished episode is written to {folder}" in run.stdout
    frame = pd.concat([pd.read_csv(p) for p in sorted(folder.glob("rollouts-*.csv"))])
    episodes = frame.groupby("episode_id")
    ends = frame[frame["cumulative_rewards"] != 0]
    assert len(ends) == episodes.ngroups >= 10  # one return per episode, on its last row
    # CartPole pays 1 a step: each episode's return is its length, and its probabilities are the policy's.
    assert (episodes.size() == episodes["reward"].sum()).all()
    assert sorted(ends["cumulative_rewards"]) == sorted(episodes.size().astype(float))
    probabilities = frame["all_action_probabilities"].map(json.loads)
    assert all(abs(sum(p) - 1) < 1e-5 and len(p) == 2 for p in probabilities)
    assert [c for c in frame.columns if c.startswith("state_feature_")] == [f"state_feature_{i}" for i in range(4)]

    offline = make_job_tree(tmp_path / "offline", {
        "rl.training.run": "DiscreteBCQ", "rl.training.env": "CartPole-v1", "rl.training.config.input": str(folder),
        "rl.training.config.n_steps_per_epoch": 20, "rl.training.config.batch_size": 32,
        "rl.training.stop.epochs": 1, "record_video_every": 0})
    done = run_rlrt(["train"], base=offline.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(rf"offline data: \d+ episodes, \d+ steps from \d+ file\(s\) in {re.escape(str(folder))}", done.stdout)
    assert (offline.model / "policy.onnx").is_file()


def test_input_with_an_online_algorithm_names_the_offline_ones_at_once(tmp_path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.input": "/opt/ml/input/data/train"})
    started = time.monotonic()
    run = run_rlrt(["train"], base=tree.base, timeout=120)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    failure = tree.failure.read_text()
    assert "'rl.training.config.input' (RLlib 1.x: train from logged experiences) needs an offline algorithm; " \
           "PPO trains online" in failure and "rl.training.run=DiscreteBCQ" in failure
    assert time.monotonic() - started < 30
