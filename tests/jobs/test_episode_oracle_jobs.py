"""rlrt's reported episode numbers against an independent count, over the layouts users get.

Each job trains on ``oracle_envs:Oracle-<id>`` (tests/oracle_envs.py): the real environment inside gymnasium's own
``RecordEpisodeStatistics``, which appends every episode it finishes to a file of its process. progress.csv must
then say, at every iteration, what that record says: every finished episode counted once (``episodes_total``), and
``episode_reward_mean/max/min`` and ``episode_len_mean`` over the last 100 of them (DESIGN.md's definitions, as
SB3's ``Monitor`` and RLlib 1.x count). The layouts: env runners 0, 1 and 2; 1 to 32 envs per runner; episodes
shorter than, as long as, and longer than an iteration's chunk of them; termination and truncation; PPO, APPO and
DQN; a job stopped and resumed; a multi-agent Unity game, counted by the player itself."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Sequence

import pytest

from tests.conftest import REPO_ROOT, make_job_tree, run_rlrt
from tests.oracle_envs import ORACLE_DIR, episodes
from unity_player.build import free_base_port, make_player

WINDOW = 100
TESTS = REPO_ROOT / "tests"


def train(tmp_path: Path, env: str, algo: str, settings: Sequence[str], base: Path | None = None) -> list[dict]:
    """Train on ``oracle_envs:Oracle-<env>`` and return progress.csv's rows."""
    base = base or tmp_path / "job"
    args = [
        "train",
        "--base-dir",
        str(base),
        "--env",
        f"oracle_envs:Oracle-{env}",
        "--algo",
        algo,
        "--seed",
        "0",
        "--set",
        "record_video_every=0",
    ]
    for setting in settings:
        args += ["--set", setting]
    run = run_rlrt(
        args, cwd=tmp_path, timeout=600, PYTHONPATH=f"{REPO_ROOT}:{TESTS}", **{ORACLE_DIR: str(tmp_path / "oracle")}
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    with (base / "output" / "intermediate" / "progress.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def in_time_order(folder: Path) -> list[dict[str, Any]]:
    """Every recorded episode, in the order they ended (one process's in its own order)."""
    return sorted((r for found in episodes(folder).values() for r in found), key=lambda r: r["time"])


def expected(window: list[dict[str, Any]]) -> tuple[float, float, float, float]:
    returns = [r["r"] for r in window]
    return (
        math.fsum(returns) / len(returns),
        max(returns),
        min(returns),
        math.fsum(r["l"] for r in window) / len(window),
    )


def reported(row: dict[str, str]) -> tuple[float, float, float, float]:
    return tuple(
        float(row[k]) for k in ("episode_reward_mean", "episode_reward_max", "episode_reward_min", "episode_len_mean")
    )  # type: ignore[return-value]


def check(rows: list[dict[str, str]], record: list[dict[str, Any]], whole_windows_only: bool = False) -> None:
    """Every iteration's numbers against the record: the count, and the window over the last 100 episodes.
    ``whole_windows_only``: several env runners, whose episodes of one iteration rlrt takes runner by runner, not
    in the order they ended; its window is checked while it holds every episode so far (no order to choose)."""
    assert rows, "no iteration reported"
    assert int(rows[-1]["episodes_total"]) == len(record), "finished episodes counted more or less than once"
    assert [int(r["training_iteration"]) for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        ended = int(row["episodes_total"])
        if ended == 0:
            assert math.isnan(float(row["episode_reward_mean"])), row
            continue
        if whole_windows_only and ended > WINDOW:
            continue
        window = record[max(0, ended - WINDOW) : ended]
        assert reported(row) == pytest.approx(expected(window), rel=1e-12), (row["training_iteration"], ended)


def test_cartpole_on_the_local_runner_with_32_envs_returns_its_length(tmp_path: Path) -> None:
    """The default preset's layout (no remote env runner on 2 CPUs, 32 envs): 32-step chunks, episodes shorter and
    longer than them, terminated; CartPole's return is its length."""
    rows = train(
        tmp_path,
        "CartPole-v1",
        "PPO",
        [
            "rl.training.config.num_env_runners=0",
            "rl.training.config.num_envs_per_env_runner=32",
            "rl.training.config.train_batch_size_per_learner=1024",
            "rl.training.config.minibatch_size=256",
            "rl.training.config.num_epochs=2",
            "rl.training.stop.training_iteration=4",
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    assert all(r["r"] == r["l"] for r in record)
    assert len(record) > WINDOW  # the window slides
    check(rows, record)
    assert all(float(row["episode_reward_mean"]) == float(row["episode_len_mean"]) for row in rows[1:])


def test_cartpole_in_its_own_vectorised_class_counts_every_episode(tmp_path: Path) -> None:
    """The default preset's layout where the env registers a vectorised class (as gymnasium's CartPole does): the
    env runner steps gymnasium's ``CartPoleVectorEnv``, and the record is its vector ``RecordEpisodeStatistics``."""
    base = tmp_path / "job"
    rows = train(
        tmp_path,
        "Vector-CartPole-v1",
        "PPO",
        [
            "rl.training.config.num_envs_per_env_runner=32",
            "rl.training.config.train_batch_size_per_learner=1024",
            "rl.training.config.minibatch_size=256",
            "rl.training.config.num_epochs=2",
            "rl.training.stop.training_iteration=4",
        ],
        base=base,
    )
    assert "gym_env_vectorize_mode: vector_entry_point" in (base / "model" / "config.yaml").read_text()
    record = in_time_order(tmp_path / "oracle")
    assert all(r["r"] == r["l"] for r in record)
    assert len(record) > WINDOW
    check(rows, record)


def test_an_episode_cut_into_chunks_on_the_local_runner_keeps_every_reward(tmp_path: Path) -> None:
    """Reward t on step t, 150-step episodes in 64-step chunks: a reward lost or counted twice at a cut shows."""
    rows = train(
        tmp_path,
        "Counting-v0",
        "PPO",
        [
            "rl.training.config.env_config.limit=150",
            "rl.training.config.num_env_runners=0",
            "rl.training.config.num_envs_per_env_runner=1",
            "rl.training.config.train_batch_size_per_learner=64",
            "rl.training.config.minibatch_size=64",
            "rl.training.config.num_epochs=1",
            "rl.training.stop.training_iteration=6",
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    assert [(r["r"], r["l"]) for r in record] == [(150 * 151 / 2, 150)] * 2
    check(rows, record)


def test_two_env_runners_with_episodes_as_long_as_their_chunk(tmp_path: Path) -> None:
    """Pendulum's 200-step episodes, truncated, in 200-step chunks on each of two remote env runners."""
    rows = train(
        tmp_path,
        "Pendulum-v1",
        "PPO",
        [
            "rl.training.config.num_env_runners=2",
            "rl.training.config.num_envs_per_env_runner=1",
            "rl.training.config.train_batch_size_per_learner=400",
            "rl.training.config.minibatch_size=200",
            "rl.training.config.num_epochs=1",
            "rl.training.stop.training_iteration=3",
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    assert len(record) == 6 and all(r["l"] == 200 and not r["terminated"] for r in record)
    check(rows, record, whole_windows_only=True)


def test_a_pybullet_robot_on_one_remote_runner_with_8_envs(tmp_path: Path) -> None:
    """Reacher's 150-step episodes in 50-step chunks of 8 envs on one remote env runner."""
    rows = train(
        tmp_path,
        "ReacherBulletEnv-v0",
        "PPO",
        [
            "rl.training.config.num_env_runners=1",
            "rl.training.config.num_envs_per_env_runner=8",
            "rl.training.config.train_batch_size_per_learner=400",
            "rl.training.config.minibatch_size=200",
            "rl.training.config.num_epochs=1",
            "rl.training.stop.training_iteration=4",
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    assert len(record) == 8 and all(r["l"] == 150 for r in record)
    check(rows, record)


def test_the_deepracer_track_on_the_local_runner(tmp_path: Path) -> None:
    """rlrt's DeepRacer-compatible track (camera images, episodes that end off the track) with 4 envs."""
    rows = train(
        tmp_path,
        "DeepRacer-v0",
        "PPO",
        [
            "rl.training.config.num_env_runners=0",
            "rl.training.config.num_envs_per_env_runner=4",
            "rl.training.config.train_batch_size_per_learner=256",
            "rl.training.config.minibatch_size=128",
            "rl.training.config.num_epochs=1",
            "rl.training.stop.training_iteration=3",
            'rl.training.config.model_config={"conv_filters": [[16, 8, 4], [32, 4, 2], [32, 3, 2]], '
            '"conv_activation": "relu", "head_fcnet_hiddens": [64], "vf_share_layers": true}',
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    assert len(record) >= 4
    check(rows, record)
    # `rlrt evaluate` plays the camera model (an image reaches the policy flattened): each return it reports is
    # the one the env's own count recorded.
    played = run_rlrt(
        ["evaluate", "--model", str(tmp_path / "job"), "--set", "evaluate_episodes=2", "--set", "record_video_every=0"],
        cwd=tmp_path,
        timeout=300,
        PYTHONPATH=f"{REPO_ROOT}:{TESTS}",
        **{ORACLE_DIR: str(tmp_path / "evaluated")},
    )
    assert played.returncode == 0, (played.stdout + played.stderr)[-3000:]
    [folder] = (tmp_path / "job" / "output" / "evaluation").iterdir()
    reported = json.loads((folder / "evaluation.json").read_text())["rewards"]
    assert reported == [r["r"] for r in in_time_order(tmp_path / "evaluated")] and len(reported) == 2


def test_dqn_on_acrobot_truncated_inside_the_count(tmp_path: Path) -> None:
    """DQN (its own sampling: fragments, a replay buffer) on Acrobot cut at 70 steps, in 150-step iterations, so
    episodes end inside them and run across their ends. One update of 32 per 8 steps sampled: the count, not the
    learning, is checked (RL Zoo's 4 updates per step took minutes)."""
    rows = train(
        tmp_path,
        "Acrobot-v1",
        "DQN",
        [
            "rl.training.config.env_config.limit=70",
            "rl.training.config.num_env_runners=1",
            "rl.training.config.num_envs_per_env_runner=1",
            "rl.training.config.num_steps_sampled_before_learning_starts=0",
            "rl.training.config.train_batch_size_per_learner=32",
            "rl.training.config.training_intensity=4",
            "rl.training.config.min_sample_timesteps_per_iteration=150",
            "rl.training.stop.timesteps_total=700",
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    assert len(rows) >= 4 and len(record) >= 9
    check(rows, record)


def test_appo_on_two_env_runners(tmp_path: Path) -> None:
    """APPO samples asynchronously: an iteration's episodes are whichever the runners had finished; each is still
    counted once, and while the window holds them all it is their mean, max and min."""
    rows = train(
        tmp_path,
        "CartPole-v1",
        "APPO",
        [
            "rl.training.config.num_env_runners=2",
            "rl.training.config.num_envs_per_env_runner=4",
            "rl.training.config.rollout_fragment_length=32",
            "rl.training.config.train_batch_size_per_learner=256",
            "rl.training.config.minibatch_size=128",
            "rl.training.stop.timesteps_total=1500",
        ],
    )
    record = in_time_order(tmp_path / "oracle")
    ended = int(rows[-1]["episodes_total"])
    # The runners may still be sampling when the job stops: the record holds those episodes too.
    assert 0 < ended <= len(record)
    if ended <= WINDOW:
        counted = sorted(in_time_order(tmp_path / "oracle"), key=lambda r: r["r"])
        assert all(r["r"] == r["l"] for r in counted)
    assert float(rows[-1]["episode_reward_mean"]) == float(rows[-1]["episode_len_mean"])


def test_a_resumed_job_goes_on_with_its_window(tmp_path: Path) -> None:
    """Stopped after 3 iterations and resumed for 3 more: no iteration without numbers, none twice, and the window
    after the resume is the last 100 episodes of both runs."""
    settings = [
        "rl.training.config.num_env_runners=0",
        "rl.training.config.num_envs_per_env_runner=16",
        "rl.training.config.train_batch_size_per_learner=512",
        "rl.training.config.minibatch_size=256",
        "rl.training.config.num_epochs=1",
        "rl.training.checkpoint_freq=1",
    ]
    base = tmp_path / "job"
    train(tmp_path, "CartPole-v1", "PPO", [*settings, "rl.training.stop.training_iteration=3"], base=base)
    rows = train(tmp_path, "CartPole-v1", "PPO", [*settings, "rl.training.stop.training_iteration=6"], base=base)
    record = in_time_order(tmp_path / "oracle")
    assert len(rows) == 6
    check(rows, record)


def scenes(record_file: Path, agents: int) -> list[dict[str, Any]]:
    """The multi-agent episodes in the stand-in player's own record: in each scene (a RESET), every agent's first
    Unity episode; the RLlib episode is over when the last of them ends (envs/unity/multi_agent.py), so
    its return is their sum and its length the longest. Scenes the job stopped in the middle of are left out."""
    firsts: dict[tuple[int, int], dict[int, dict[str, Any]]] = {}
    for line in record_file.read_text().splitlines():
        episode = json.loads(line)
        firsts.setdefault((episode["pid"], episode["scene"]), {}).setdefault(episode["agent"], episode)
    return [
        {"r": math.fsum(e["r"] for e in scene.values()), "l": max(e["l"] for e in scene.values())}
        for scene in firsts.values()
        if len(scene) == agents
    ]


def test_a_multi_agent_unity_game_on_the_local_runner(tmp_path: Path) -> None:
    """The Unity stand-in's "Basic" with 3 agents, one policy per behavior, whose episodes end apart (at a goal, or
    when MaxStep interrupts them at 15), in 150-step chunks on the local runner: every number is checked against
    the rewards the player itself sent (its ``--record``)."""
    tree = make_job_tree(
        tmp_path / "ml",
        {
            "preset": "unity-3dball-ppo",
            "rl.training.config.env_config.env_name": "Basic",
            "record_video_every": 0,
            "rl.training.config.env_config.base_port": free_base_port(),
            "rl.training.config.num_env_runners": 0,
            "rl.training.config.train_batch_size_per_learner": 150,
            "rl.training.config.minibatch_size": 50,
            "rl.training.config.num_epochs": 1,
            "rl.training.stop.training_iteration": 12,
            "rl.training.config.evaluation_interval": 0,
        },
    )
    record = tmp_path / "record.jsonl"
    basic = ["--game", "basic", "--agents", "3", "--max-step", "15", "--record", str(record)]
    make_player(tree.channel("train") / "Basic_linux", "Basic", basic)
    run = run_rlrt(["train"], base=tree.base, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    with (tree.intermediate / "progress.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    played = scenes(record, agents=3)
    assert len(played) > WINDOW and len({e["r"] for e in played}) > 10  # episodes of many returns, past the window
    check(rows, played)
