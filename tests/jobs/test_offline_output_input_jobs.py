"""RLlib 1.x's offline-data settings on rlrt: ``output`` on an online job writes every finished episode in
the rollout format, with the behaviour policy's probabilities; ``input`` naming that folder, or a folder of RLlib
1.x's own JSON sample batches, trains an offline algorithm (d3rlpy) on it; ``input`` with an online algorithm fails
at once naming the offline ones."""

from __future__ import annotations

import base64
import json
import pickle
import re
import time

import numpy as np
import pandas as pd
import pytest

from runtime.offline.collect import collect
from tests.conftest import make_job_tree, run_rlrt


@pytest.mark.slow
def test_output_writes_the_episodes_and_input_trains_an_offline_algorithm_on_them(tmp_path) -> None:
    online = make_job_tree(
        tmp_path / "online",
        {
            "rl.training.config.output": "logdir",
            "rl.training.stop.training_iteration": 2,
            "rl.training.config.train_batch_size": 400,
            "rl.training.config.num_workers": 1,
            "record_video_every": 0,
        },
    )
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

    offline = make_job_tree(
        tmp_path / "offline",
        {
            "rl.training.run": "DiscreteBCQ",
            "rl.training.env": "CartPole-v1",
            "rl.training.config.input": str(folder),
            "rl.training.config.n_steps_per_epoch": 20,
            "rl.training.config.batch_size": 32,
            "rl.training.stop.epochs": 1,
            "record_video_every": 0,
        },
    )
    done = run_rlrt(["train"], base=offline.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(
        rf"offline data: \d+ episodes, \d+ steps from \d+ file\(s\) in {re.escape(str(folder))}", done.stdout
    )
    assert (offline.model / "policy.onnx").is_file()


def test_input_with_an_online_algorithm_names_the_offline_ones_at_once(tmp_path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"rl.training.config.input": "/opt/ml/input/data/train"})
    started = time.monotonic()
    run = run_rlrt(["train"], base=tree.base, timeout=120)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    failure = tree.failure.read_text()
    assert (
        "'rl.training.config.input' (RLlib 1.x: train from logged experiences) needs an offline algorithm; "
        "PPO trains online"
        in failure
        and "rl.training.run=DiscreteBCQ" in failure
    )
    assert time.monotonic() - started < 30


def write_rllib_1x_output(frame: pd.DataFrame, folder, fragment: int = 64) -> int:
    """``frame``'s episodes as RLlib 1.x's JsonWriter wrote them (two workers' files, ``fragment`` steps a batch, an
    episode cut across batches; obs/new_obs compressed as its compression.pack when lz4 is there); returns the
    number of batches."""
    try:
        import lz4.frame
    except ImportError:
        lz4 = None
    states = [c for c in frame.columns if c.startswith("state_feature_")]
    rows = []
    for eps_id, (_, episode) in enumerate(frame.groupby("episode_id", sort=False)):
        obs = episode[states].to_numpy(np.float32)
        probabilities = [json.loads(p) for p in episode["all_action_probabilities"]]
        for t in range(len(episode)):
            action = int(episode["action"].iloc[t])
            rows.append(
                {
                    "obs": obs[t],
                    "new_obs": obs[min(t + 1, len(obs) - 1)],
                    "actions": action,
                    "rewards": float(episode["reward"].iloc[t]),
                    "dones": t == len(episode) - 1,
                    "eps_id": 1_000_000 + eps_id,
                    "t": t,
                    "action_prob": probabilities[t][action],
                    "action_logp": float(np.log(probabilities[t][action])),
                    "infos": {},
                }
            )
    batches = [rows[i : i + fragment] for i in range(0, len(rows), fragment)]
    for worker in (1, 2):
        lines = []
        for batch in batches[worker - 1 :: 2]:
            line = {"type": "SampleBatch"}
            for key in rows[0]:
                values = [r[key] for r in batch]
                if key in ("obs", "new_obs"):
                    array = np.stack(values)
                    line[key] = (
                        base64.b64encode(lz4.frame.compress(pickle.dumps(array))).decode("ascii")
                        if lz4
                        else array.tolist()
                    )
                else:
                    line[key] = values
            lines.append(json.dumps(line))
        (folder / f"output-2021-06-01_10-00-0{worker}_worker-{worker}_0.json").write_text("\n".join(lines) + "\n")
    return len(batches)


@pytest.mark.slow
def test_input_naming_rllib_1x_json_sample_batches_trains_an_offline_algorithm(tmp_path) -> None:
    rollouts = tmp_path / "rollouts.csv"
    collect("CartPole-v0", num_envs=10, num_episodes=2, output=rollouts, seed=0, progress=False)
    frame = pd.read_csv(rollouts)
    folder = tmp_path / "rllib-out"
    folder.mkdir()
    assert write_rllib_1x_output(frame, folder) >= 4
    offline = make_job_tree(
        tmp_path / "offline",
        {
            "rl.training.run": "DiscreteCQL",
            "rl.training.env": "CartPole-v0",
            "rl.training.config.input": str(folder),
            "rl.training.config.n_steps_per_epoch": 20,
            "rl.training.config.batch_size": 32,
            "rl.training.stop.epochs": 1,
            "evaluate_episodes": 1,
            "record_video_every": 0,
        },
    )
    done = run_rlrt(["train"], base=offline.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    episodes, steps = frame["episode_id"].nunique(), len(frame)
    assert re.search(
        rf"offline data: {episodes} episodes, {steps} steps from 2 file\(s\) in {re.escape(str(folder))} "
        r"\(output-2021-06-01_10-00-01_worker-1_0\.json, output-2021-06-01_10-00-02_worker-2_0\.json\); "
        rf"mean logged return {frame.groupby('episode_id')['reward'].sum().mean():.2f}\n",
        done.stdout,
    )
    assert re.search(r"^ope_wis: [-+]?[0-9.]+(e[-+]?[0-9]+)?$", done.stdout, re.M)  # the logged probabilities read
    assert (offline.model / "policy.onnx").is_file()
    assert json.loads((offline.model / "metadata.json").read_text())["data"]["transitions"] == steps
