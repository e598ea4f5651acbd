"""RLlib 1.x's ``input`` as a list of glob patterns: an offline job trains on every file they match in the
``train`` channel, named in the ``offline data`` line."""

from __future__ import annotations

import re

import pandas as pd

from runtime.offline.collect import collect
from tests.conftest import make_job_tree, run_rlrt


def test_a_list_of_two_globs_trains_on_the_files_of_both(tmp_path) -> None:
    rollouts = tmp_path / "rollouts.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=2, output=rollouts, seed=0, progress=False)
    frame = pd.read_csv(rollouts)
    ids = sorted(frame["episode_id"].unique())
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "preset": "cartpole-bcq",
            "rl.training.run": "DiscreteBCQ",
            "rl.training.env": "CartPole-v0",
            "rl.training.config.input": [
                "/opt/ml/input/data/train/day1/*.csv",
                "/opt/ml/input/data/train/day2/part-?.csv",
            ],
            "rl.training.config.n_steps_per_epoch": 10,
            "rl.training.config.batch_size": 16,
            "rl.training.stop.epochs": 1,
            "evaluate_episodes": 1,
            "record_video_every": 0,
        },
    )
    for folder, part in (("day1", ids[: len(ids) // 2]), ("day2", ids[len(ids) // 2 :])):
        (tree.channel("train") / folder).mkdir(parents=True)
        frame[frame["episode_id"].isin(part)].to_csv(tree.channel("train") / folder / "part-0.csv", index=False)
    (tree.channel("train") / "day2" / "notes.txt").write_text("not matched")
    done = run_rlrt(["train"], base=tree.base, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = re.search(r"offline data: (\d+) episodes, (\d+) steps from 2 file\(s\) in (\S+) \((.*)\)", done.stdout)
    assert line, done.stdout[-3000:]
    assert (int(line[1]), int(line[2])) == (len(ids), len(frame))
    assert line[3].endswith("train") and line[4].startswith("day1/part-0.csv, day2/part-0.csv")
    assert (tree.model / "policy.onnx").is_file()
