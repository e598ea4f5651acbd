"""Warm start, one mechanism for every backend: a job given a previous model (the ``pretrained`` channel, the
``pretrained_model`` hyperparameter) starts from its weights with fresh counters, which its first iteration's return
shows; a model of another environment / observation space is refused, naming both."""

from __future__ import annotations

import csv
import json
import tarfile
from pathlib import Path

import pytest

from tests.conftest import make_job_tree, run_rlrt

# One env, no remote runners: complete episodes in every 2048-step iteration, quick on a busy machine.
SMALL = {
    "preset": "cartpole-ppo",
    "rl.training.config.num_envs_per_env_runner": 1,
    "rl.training.config.num_env_runners": 0,
    "seed": 3,
}


def returns(base: Path) -> list[float]:
    rows = list(csv.DictReader((base / "output" / "intermediate" / "progress.csv").open()))
    return [float(row["episode_reward_mean"]) for row in rows]


@pytest.mark.slow
def test_warm_start_from_a_model_tarball_and_a_foreign_model_is_refused(tmp_path: Path) -> None:
    # The source trains with the preset's 32 vectorised CartPoles (~4x the steps per second of one env).
    source = make_job_tree(
        tmp_path / "source",
        {
            **SMALL,
            "rl.training.config.num_envs_per_env_runner": 32,
            "rl.training.stop.episode_reward_mean": 120,
            "rl.training.stop.training_iteration": 25,
        },
    )
    run = run_rlrt(["train"], base=source.base, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    learned = returns(source.base)
    fresh_first, trained_last = learned[0], learned[-1]
    assert trained_last >= 120 > 2 * fresh_first, learned

    tarball = tmp_path / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for item in source.model.iterdir():
            tar.add(item, arcname=item.name)
    warm = make_job_tree(tmp_path / "warm", {**SMALL, "rl.training.stop.training_iteration": 1})
    (warm.channel("pretrained") / "model.tar.gz").write_bytes(tarball.read_bytes())
    run = run_rlrt(["train"], base=warm.base, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "rlrt: warm start from" in run.stdout and "the 'pretrained' channel: PPO on CartPole-v1" in run.stdout
    # Counters start fresh; the first iteration already plays like the trained model, not like a fresh one.
    training = json.loads((warm.model / "metadata.json").read_text())["training"]
    assert training["training_iteration"] == 1 and training["timesteps_total"] <= 2 * 2048
    first = returns(warm.base)[0]
    assert first > 2 * fresh_first and first > 0.5 * trained_last, (first, fresh_first, trained_last)

    # Another environment (Acrobot-v1: Box(6,) observations, 3 actions): refused before training, naming both.
    other = make_job_tree(
        tmp_path / "other",
        {
            **SMALL,
            "rl.training.env": "Acrobot-v1",
            "pretrained_model": str(source.model),
            "rl.training.stop.training_iteration": 1,
        },
    )
    run = run_rlrt(["train"], base=other.base, timeout=600)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    failure = other.failure.read_text()
    assert f"The pretrained model {source.model.resolve()}" in failure
    assert "the pretrained_model hyperparameter" in failure
    assert "PPO on CartPole-v1 (Box(4,) -> Discrete(2))" in failure and "Acrobot-v1 (Box(6,) -> Discrete(3))" in failure
    assert "Traceback" not in run.stderr and not (other.model / "metadata.json").exists()


def test_a_pretrained_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    tree = make_job_tree(
        tmp_path / "ml",
        {
            **SMALL,
            "pretrained_model": str(tmp_path / "nowhere" / "model.tar.gz"),
            "rl.training.stop.training_iteration": 1,
        },
    )
    run = run_rlrt(["train"], base=tree.base, timeout=600)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    failure = tree.failure.read_text()
    assert f"pretrained_model names {tmp_path / 'nowhere' / 'model.tar.gz'}, which does not exist" in failure
