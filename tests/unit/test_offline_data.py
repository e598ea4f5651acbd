"""``rlrt collect`` output format and the offline data loader (seed format, Parquet, folders, every kind of bad
data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runtime.errors import UserError
from runtime.offline.collect import collect, dump_states, read_batch_transform_output
from runtime.offline.dataset import load_logged_data

SEED_COLUMNS = [
    "action",
    "all_action_probabilities",
    "episode_id",
    "reward",
    "cumulative_rewards",
    "state_feature_0",
    "state_feature_1",
    "state_feature_2",
    "state_feature_3",
]


@pytest.fixture(scope="module")
def rollouts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("collect") / "cartpole.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=3, output=path, seed=3, progress=False)
    return path


def test_collect_writes_the_seed_columns_and_bookkeeping(rollouts: Path) -> None:
    frame = pd.read_csv(rollouts)
    assert list(frame.columns) == SEED_COLUMNS
    assert frame["all_action_probabilities"].iloc[0] == "[0.5, 0.5]"
    assert set(frame["action"]) <= {0, 1}
    assert frame["episode_id"].nunique() == 12
    for _, episode in frame.groupby("episode_id", sort=False):
        # cumulative_rewards: the return on the episode's last step, 0 before it.
        assert (episode["cumulative_rewards"].iloc[:-1] == 0).all()
        assert episode["cumulative_rewards"].iloc[-1] == pytest.approx(episode["reward"].sum())
        # Consecutive states of one episode follow CartPole's dynamics: the cart position moves by tau * velocity.
        x, v = episode["state_feature_0"].to_numpy(), episode["state_feature_1"].to_numpy()
        np.testing.assert_allclose(x[1:], x[:-1] + 0.02 * v[:-1], atol=1e-5)
    # Rows are interleaved: the first rows are step 0 of episodes 0..3 (one per env), then step 1 of each.
    assert frame["episode_id"].iloc[:8].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    # The next episode ids are handed out in the order episodes start.
    later = [e for e in dict.fromkeys(frame["episode_id"]) if e >= 4]
    assert later == list(range(4, 12))


def test_collect_is_seeded(rollouts: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=3, output=again, seed=3, progress=False)
    assert again.read_text() == rollouts.read_text()
    other = tmp_path / "other.csv"
    collect("CartPole-v0", num_envs=4, num_episodes=3, output=other, seed=4, progress=False)
    assert other.read_text() != rollouts.read_text()


def test_collect_follows_the_given_probabilities(tmp_path: Path) -> None:
    path = tmp_path / "skewed.parquet"
    collect(
        "CartPole-v0",
        num_envs=2,
        num_episodes=20,
        output=path,
        probabilities=[[0.9, 0.1], [0.2, 0.8]],
        seed=0,
        progress=False,
    )
    frame = pd.read_parquet(path)
    assert list(frame.columns) == SEED_COLUMNS
    first_env = frame[frame["all_action_probabilities"].map(lambda p: list(p) == [0.9, 0.1])]
    second_env = frame[frame["all_action_probabilities"].map(lambda p: list(p) == [0.2, 0.8])]
    assert len(first_env) + len(second_env) == len(frame)
    assert first_env["action"].mean() < 0.25
    assert second_env["action"].mean() > 0.65


def test_dump_states_matches_the_first_collected_states(tmp_path: Path) -> None:
    states = tmp_path / "states.jsonl"
    dump_states("CartPole-v0", 3, states, seed=5)
    lines = [json.loads(line) for line in states.read_text().splitlines()]
    assert len(lines) == 3 and all(len(line) == 4 for line in lines)
    data = tmp_path / "d.csv"
    collect("CartPole-v0", num_envs=3, num_episodes=1, output=data, seed=5, progress=False)
    first = pd.read_csv(data).iloc[:3]
    np.testing.assert_allclose(first[[f"state_feature_{j}" for j in range(4)]].to_numpy(), lines)


def test_batch_transform_output_plain_and_joined(tmp_path: Path) -> None:
    out = tmp_path / "states.jsonl.out"
    out.write_text(
        json.dumps({"predictions": [[0.25, 0.75]]})
        + "\n"
        + json.dumps({"SageMakerInput": [0.1, 0.2, 0.3, 0.4], "SageMakerOutput": {"predictions": [[0.6, 0.4]]}})
        + "\n"
    )
    assert read_batch_transform_output(out) == [[0.25, 0.75], [0.6, 0.4]]
    bad = tmp_path / "bad.out"
    bad.write_text(json.dumps({"outputs": [1]}) + "\n")
    with pytest.raises(UserError, match=r"bad.out, line 1: expected an object with 'predictions'"):
        read_batch_transform_output(bad)


def test_loader_reads_the_seed_format(rollouts: Path) -> None:
    frame = pd.read_csv(rollouts)
    data = load_logged_data(rollouts)
    assert data.num_transitions == len(frame)
    assert data.num_episodes == 12
    assert data.discrete and data.n_actions == 2
    np.testing.assert_allclose(data.behaviour_probs, 0.5)
    returns = sorted(data.episode_returns().tolist())
    assert returns == sorted(frame.loc[frame["cumulative_rewards"] > 0, "cumulative_rewards"].tolist())
    # Episodes are contiguous and in step order: episode 0's rows in file order.
    first = frame[frame["episode_id"] == 0]
    np.testing.assert_allclose(
        data.observations[: len(first)], first[[f"state_feature_{j}" for j in range(4)]].to_numpy(), rtol=1e-6
    )
    dataset = data.to_d3rlpy()
    assert len(dataset.episodes) == 12
    assert sum(ep.size() for ep in dataset.episodes) == len(frame)


def test_loader_reads_a_folder_of_csv_and_parquet(rollouts: Path, tmp_path: Path) -> None:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "a.csv").write_text(rollouts.read_text())
    pd.read_csv(rollouts).assign(
        all_action_probabilities=lambda f: f["all_action_probabilities"].map(json.loads)
    ).to_parquet(folder / "b.parquet")
    data = load_logged_data(folder)
    assert data.num_episodes == 24  # the same episode ids in two files are different episodes
    assert len(data.files) == 2


def test_time_limit_marks_timeouts(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    collect("CartPole-v0", num_envs=1, num_episodes=2, output=path, seed=0, progress=False)
    data = load_logged_data(path, time_limit=int(load_logged_data(path).episode_returns()[0]))
    assert not data.terminated[0]


def _write(tmp_path: Path, rollouts: Path, edit) -> Path:
    frame = pd.read_csv(rollouts, dtype=str, keep_default_na=False)
    edit(frame)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.drop(columns=["reward"], inplace=True), r"bad.csv: missing column\(s\) 'reward'"),
        (
            lambda f: f.drop(columns=["episode_id", "action"], inplace=True),
            r"missing column\(s\) 'action', 'episode_id'",
        ),
        (
            lambda f: f.__setitem__("state_feature_2", f["state_feature_2"].where(f.index != 4, "abc")),
            r"bad.csv, row 5 \(line 6\), column 'state_feature_2': 'abc' is not a number",
        ),
        (
            lambda f: f.__setitem__("state_feature_0", f["state_feature_0"].where(f.index != 2, "")),
            r"row 3 \(line 4\), column 'state_feature_0': '' is not a number",
        ),
        (
            lambda f: f.__setitem__(
                "all_action_probabilities", f["all_action_probabilities"].where(f.index != 6, "[0.5, 0.6]")
            ),
            r"row 7 \(line 8\), column 'all_action_probabilities': probabilities \[0.5, 0.6\] sum to 1.1, not 1",
        ),
        (
            lambda f: (
                f.__setitem__(
                    "all_action_probabilities", f["all_action_probabilities"].where(f.index != 0, "[0.0, 1.0]")
                ),
                f.__setitem__("action", f["action"].where(f.index != 0, "0")),
            ),
            r"row 1 \(line 2\), column 'all_action_probabilities': the logged action 0 has probability 0",
        ),
        (
            lambda f: f.__setitem__(
                "all_action_probabilities", f["all_action_probabilities"].where(f.index != 1, "half")
            ),
            r"row 2 \(line 3\), column 'all_action_probabilities': 'half' is not a list of numbers",
        ),
        (
            lambda f: f.__setitem__("reward", f["reward"].where(f.index != 9, "nan")),
            r"row 10 \(line 11\), column 'reward': 'nan' is not a finite number",
        ),
        (
            lambda f: f.__setitem__("reward", f["reward"].where(f.index != 9, "inf")),
            r"row 10 \(line 11\), column 'reward': 'inf' is not a finite number",
        ),
        (
            lambda f: f.__setitem__("action", f["action"].where(f.index != 3, "1.5")),
            r"row 4 \(line 5\), column 'action': '1.5' is not a discrete action",
        ),
        (
            lambda f: f.__setitem__("action", f["action"].where(f.index != 3, "2")),
            r"row 4 \(line 5\), column 'action': action 2 is outside the 2 actions",
        ),
        (
            lambda f: f.__setitem__("episode_id", f["episode_id"].where(f.index != 3, "")),
            r"row 4 \(line 5\), column 'episode_id': the episode id is empty",
        ),
        (lambda f: f.drop(columns=["state_feature_1"], inplace=True), r"'state_feature_1' is missing"),
    ],
    ids=[
        "missing-reward",
        "missing-two",
        "non-numeric-feature",
        "empty-feature",
        "probabilities-sum",
        "zero-probability-action",
        "probabilities-not-a-list",
        "nan-reward",
        "inf-reward",
        "fractional-action",
        "action-out-of-range",
        "empty-episode-id",
        "feature-gap",
    ],
)
def test_loader_rejects_bad_data(tmp_path: Path, rollouts: Path, edit, message: str) -> None:
    path = _write(tmp_path, rollouts, edit)
    with pytest.raises(UserError, match=message):
        load_logged_data(path)


def test_loader_rejects_empty_files_and_folders(tmp_path: Path, rollouts: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserError, match=r"empty.csv is empty \(0 bytes\)"):
        load_logged_data(empty)
    header = tmp_path / "header.csv"
    header.write_text(rollouts.read_text().splitlines()[0] + "\n")
    with pytest.raises(UserError, match=r"header.csv has a header but no rows"):
        load_logged_data(header)
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    with pytest.raises(
        UserError,
        match=r"No .csv or .parquet rollout files or RLlib output-\*.json sample-batch "
        r"files under .*nothing \(found: notes.txt\)",
    ):
        load_logged_data(folder)


def test_loader_rejects_mismatched_files(tmp_path: Path, rollouts: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text(rollouts.read_text())
    pd.read_csv(rollouts).drop(columns=["state_feature_3"]).to_csv(folder / "b.csv", index=False)
    with pytest.raises(UserError, match=r"b.csv has 3 state features but .*a.csv has 4"):
        load_logged_data(folder)


def test_loader_bad_parquet_names_row_and_column(tmp_path: Path, rollouts: Path) -> None:
    frame = pd.read_csv(rollouts)
    frame["all_action_probabilities"] = frame["all_action_probabilities"].map(json.loads)
    frame.loc[5, "reward"] = np.inf
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    with pytest.raises(UserError, match=r"bad.parquet, row 6, column 'reward': inf is not a finite number"):
        load_logged_data(path)


def test_transition_table_holds_exactly_d3rlpys_transitions(rollouts: Path) -> None:
    from runtime.offline.sampler import TransitionTable

    dataset = load_logged_data(rollouts).to_d3rlpy()
    table = TransitionTable(dataset)
    assert table.size == dataset.transition_count
    for i in range(table.size):
        picked = dataset.transition_picker(*dataset.buffer[i])
        np.testing.assert_array_equal(picked.observation, table.observations[i])
        np.testing.assert_array_equal(picked.next_observation, table.next_observations[i])
        assert picked.terminal == table.terminals[i, 0] and picked.reward[0] == table.rewards[i, 0]
        assert picked.action[0] == table.actions[i, 0]
    np.random.seed(0)
    batch = table.sample(64)
    assert batch.observations.shape == (64, 4) and batch.terminals.shape == (64, 1)
    # Terminal transitions are the last step of each episode (CartPole's random episodes all fall).
    assert table.terminals.sum() == dataset.size()
