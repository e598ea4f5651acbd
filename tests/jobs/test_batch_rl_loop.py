"""The seeds' whole Batch RL loop, as real processes: collect with a random policy -> train BCQ offline ->
`rlrt transform` over dumped states (Batch Transform) -> collect again with the returned probabilities, and with the
deployed model at every step -> the new data's mean return is clearly above the random data's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import make_job_tree, run_rlrt


def mean_return(path: Path) -> float:
    frame = pd.read_csv(path)
    last = frame.groupby("episode_id").tail(1)
    return float(last["cumulative_rewards"].mean())


@pytest.mark.slow
def test_collect_train_transform_collect(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"preset": "preset-cartpole-ddqnbcq"})
    random_data = tree.channel("train") / "random.csv"
    run = run_rlrt(
        [
            "collect",
            "--env",
            "CartPole-v0",
            "--num-envs",
            "100",
            "--num-episodes",
            "5",
            "--seed",
            "0",
            "--output",
            str(random_data),
            "--no-progress",
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    random_mean = mean_return(random_data)
    assert 15 < random_mean < 30  # the seed's random policy scores ~22

    run = run_rlrt(["train"], base=tree.base, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"^ope_wis: ", run.stdout, re.M)
    model = tree.model
    assert json.loads((model / "metadata.json").read_text())["framework"] == "d3rlpy"

    # Batch Transform over the dumped states, joined with the input as the seed does.
    states = tmp_path / "states" / "env_states.json"
    run = run_rlrt(
        ["collect", "--env", "CartPole-v0", "--num-envs", "100", "--seed", "7", "--dump-states", str(states)]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = tmp_path / "transform-out"
    run = run_rlrt(
        [
            "transform",
            "--model",
            str(model),
            "--input",
            str(states.parent),
            "--output",
            str(out),
            "--strategy",
            "SingleRecord",
            "--join-source",
            "Input",
            "--no-progress",
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = (out / "env_states.json.out").read_text().splitlines()
    assert len(lines) == 100
    first = json.loads(lines[0])
    probabilities = first["SageMakerOutput"]["predictions"][0]
    assert len(probabilities) == 2 and abs(sum(probabilities) - 1) < 1e-5

    # The transform's probabilities as the next collection's behaviour policy (one vector per env, as in the seed).
    from_transform = tmp_path / "from-transform.csv"
    run = run_rlrt(
        [
            "collect",
            "--env",
            "CartPole-v0",
            "--num-envs",
            "100",
            "--num-episodes",
            "1",
            "--seed",
            "7",
            "--policy-file",
            str(out / "env_states.json.out"),
            "--output",
            str(from_transform),
            "--no-progress",
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    logged = pd.read_csv(from_transform)
    assert json.loads(logged["all_action_probabilities"].iloc[0]) == pytest.approx(probabilities, abs=1e-6)

    # The deployed model at every step (the seed's per-timestep Batch Transform loop): clearly better data.
    next_data = tmp_path / "next.csv"
    run = run_rlrt(
        [
            "collect",
            "--env",
            "CartPole-v0",
            "--num-envs",
            "100",
            "--num-episodes",
            "1",
            "--seed",
            "7",
            "--model",
            str(model),
            "--output",
            str(next_data),
            "--no-progress",
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    new_mean = mean_return(next_data)
    assert new_mean > 3 * random_mean, (random_mean, new_mean)
