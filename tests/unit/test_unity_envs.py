"""Unity adapters against the stand-in player (tests/unity_player): spaces, stepping, finding the game, and the
clear errors (unknown registry id offline, busy port, a player that crashes or hangs). Every test checks that the
players it launched are gone afterwards."""

from __future__ import annotations

import hashlib
import socket
import time
import zipfile
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import pytest
from unity_player.build import free_base_port, make_player, running_players

from envs.errors import EnvConfigError
from envs.registry import agent_groups, canonical_env_id, env_info, make_env, prepare_env_config
from envs.unity.config import UnityConfig
from envs.unity.game import find_player
from envs.unity.gym_env import UnityGymEnv
from envs.unity.multi_agent import UnityMultiAgentEnv, agent_key, behavior_of
from envs.unity.session import UnityPlayerError


@pytest.fixture
def players(tmp_path: Path) -> Iterator[Path]:
    """A folder for stand-in players; after the test, none of the players started from it may still run."""
    folder = tmp_path / "players"
    folder.mkdir()
    yield folder
    left = running_players(folder)
    assert not left, f"player processes left running: {[p.pid for p in left]}"


def config(player: Path, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"player": str(player), "base_port": free_base_port(), "log_dir": str(tmp_path / "logs"), **extra}


def test_basic_spaces_and_an_optimal_episode(players: Path, tmp_path: Path) -> None:
    env = UnityGymEnv(config(make_player(players, "Basic"), tmp_path))
    try:
        assert env.observation_space == gym.spaces.Box(-np.inf, np.inf, (20,), np.float32)
        assert env.action_space == gym.spaces.Discrete(3)
        obs, _ = env.reset()
        assert obs.shape == (20,) and obs.argmax() == 10 and obs.sum() == 1
        total, steps = 0.0, 0
        while True:
            obs, reward, terminated, truncated, _ = env.step(2)  # right, towards the large goal at 17
            total, steps = total + reward, steps + 1
            if terminated or truncated:
                break
        assert (terminated, truncated, steps) == (True, False, 7)
        assert obs.argmax() == 17
        assert total == pytest.approx(0.93, abs=1e-5)
        # The agent restarted by itself: reset() continues from its first observation, at the start position.
        obs, _ = env.reset()
        assert obs.argmax() == 10
        for _ in range(3):
            obs, reward, terminated, truncated, _ = env.step(1)  # left, to the small goal at 7
        assert terminated and not truncated and reward == pytest.approx(0.09, abs=1e-5)
        with pytest.raises(RuntimeError, match="before reset"):
            env.step(0)
    finally:
        env.close()
    assert (tmp_path / "logs" / f"unity-{env.worker_id}.log").read_text().count("connected") == 1


def test_max_step_is_truncation_and_time_limit_from_env_config(players: Path, tmp_path: Path) -> None:
    env = UnityGymEnv(config(make_player(players, "Basic", ["--max-step", "12"]), tmp_path))
    try:
        env.reset()
        outcomes = [env.step(0)[2:4] for _ in range(12)]
        assert outcomes[:-1] == [(False, False)] * 11
        assert outcomes[-1] == (False, True)  # Unity's MaxStep interrupted the episode: truncated
    finally:
        env.close()
    # rl.training.config.horizon arrives as env_config max_episode_steps: a TimeLimit, after which reset() resets Unity.
    limited = make_env("Unity", config(make_player(players, "Basic"), tmp_path, max_episode_steps=4))
    try:
        limited.reset()
        assert [limited.step(0)[3] for _ in range(4)] == [False, False, False, True]
        obs, _ = limited.reset()
        assert obs.argmax() == 10
    finally:
        limited.close()


def test_visual_and_multi_branch_spaces(players: Path, tmp_path: Path) -> None:
    player = make_player(players, "Visual", ["--observations", "both", "--branches", "3,2"])
    env = make_env("unity:Visual", config(player, tmp_path))
    try:
        assert env.observation_space == gym.spaces.Tuple(
            [gym.spaces.Box(0.0, 1.0, (8, 20, 3), np.float32), gym.spaces.Box(-np.inf, np.inf, (20,), np.float32)]
        )
        assert env.action_space == gym.spaces.MultiDiscrete([3, 2])
        (image, vector), _ = env.reset()
        assert image.shape == (8, 20, 3) and image[3, 10, 0] == 1.0 and image[3, 11, 0] == 0.0  # PNG, decoded
        (image, vector), *_ = env.step(np.array([2, 1]))
        assert vector.argmax() == 11 and image[3, 11, 0] == 1.0
        assert env.observation_space.contains((image, vector))
    finally:
        env.close()
    visual_only = UnityGymEnv(config(make_player(players, "Cam", ["--observations", "visual"]), tmp_path))
    try:
        assert visual_only.observation_space == gym.spaces.Box(0.0, 1.0, (8, 20, 3), np.float32)
    finally:
        visual_only.close()


def test_multi_agent_adapter(players: Path, tmp_path: Path) -> None:
    player = make_player(players, "Ball", ["--game", "ball", "--agents", "3", "--max-step", "40"])
    env = UnityMultiAgentEnv(config(player, tmp_path))
    try:
        agents = [agent_key("3DBall?team=0", i) for i in range(3)]
        assert env.possible_agents == agents and behavior_of(agents[2]) == "3DBall?team=0"
        for agent in agents:
            assert env.get_observation_space(agent) == gym.spaces.Box(-np.inf, np.inf, (8,), np.float32)
            assert env.get_action_space(agent) == gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        obs, _ = env.reset()
        assert sorted(obs) == agents and obs[agents[0]].shape == (8,)
        done_at: dict[str, int] = {}
        for t in range(1, 60):
            # agent 0 tilts hard (its ball falls off: terminated), the others hold still (Unity's MaxStep: truncated)
            actions = {a: np.array([1.0, 1.0] if a == agents[0] else [0.0, 0.0], np.float32) for a in obs}
            obs, rewards, terminateds, truncateds, _ = env.step(actions)
            assert set(rewards) == set(obs)
            for agent in obs:
                if terminateds[agent] or truncateds[agent]:
                    done_at[agent] = t
                    assert rewards[agent] == pytest.approx(-1.0 if terminateds[agent] else 0.1, abs=1e-5)
            assert not set(obs) & {a for a, at in done_at.items() if at < t}, "a done agent came back"
            if terminateds["__all__"] or truncateds["__all__"]:
                break
        assert done_at[agents[0]] < 40 and done_at[agents[1]] == done_at[agents[2]] == 40
        assert terminateds["__all__"] and truncateds[agents[1]] and not terminateds[agents[1]]
        obs, _ = env.reset()
        assert sorted(obs) == agents
    finally:
        env.close()
    assert agent_groups("unity-multi:3DBall", config(player, tmp_path)) == {
        "3DBall?team=0": (
            gym.spaces.Box(-np.inf, np.inf, (8,), np.float32),
            gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
        )
    }


def test_multi_agent_horizon(players: Path, tmp_path: Path) -> None:
    player = make_player(players, "Ball", ["--game", "ball", "--agents", "2"])
    env = make_env("UnityMultiAgent", config(player, tmp_path, max_episode_steps=5))
    try:
        obs, _ = env.reset()
        for _ in range(5):
            obs, rewards, terminateds, truncateds, _ = env.step({a: np.zeros(2, np.float32) for a in obs})
        assert truncateds["__all__"] and all(truncateds[a] for a in obs) and not terminateds["__all__"]
    finally:
        env.close()


def test_single_agent_env_refuses_several_agents(players: Path, tmp_path: Path) -> None:
    with pytest.raises(EnvConfigError, match="UnityMultiAgent"):
        env = UnityGymEnv(config(make_player(players, "Ball", ["--game", "ball", "--agents", "2"]), tmp_path))
        try:
            env.reset()
        finally:
            env.close()


def test_busy_port_moves_to_the_next_worker_id(players: Path, tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as blocker:
        blocker.bind(("localhost", base + 16))  # env runner 1 starts at worker id 16
        blocker.listen()
        env = UnityGymEnv(config(make_player(players, "Basic"), tmp_path, base_port=base, worker_index=1))
        try:
            assert env.worker_id == 17
            env.reset()
            assert env.step(2)[0].argmax() == 11
        finally:
            env.close()
    assert (tmp_path / "logs" / "unity-17.log").is_file() and not (tmp_path / "logs" / "unity-16.log").exists()


def test_no_free_port_is_a_clear_error(players: Path, tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as blocker:
        blocker.bind(("localhost", base))
        blocker.listen()
        with pytest.raises(UnityPlayerError, match=rf"ports {base}-{base} are all in use.*base_port"):
            UnityGymEnv(config(make_player(players, "Basic"), tmp_path, base_port=base, port_attempts=1))


def test_player_crash_mid_episode(players: Path, tmp_path: Path) -> None:
    env = UnityGymEnv(config(make_player(players, "Basic", ["--crash-after-steps", "3"]), tmp_path, timeout_wait=10))
    try:
        env.reset()
        env.step(0)
        env.step(0)
        with pytest.raises(UnityPlayerError) as failure:
            env.step(0)
        message = str(failure.value)
        assert "failed during step" in message and "return code 3" in message
        assert f"unity-{env.worker_id}.log" in message and "simulated crash after 3 steps" in message
        with pytest.raises(UnityPlayerError, match="already closed"):
            env.step(0)
    finally:
        env.close()
    # The port is free again: a new player starts on the same worker id.
    again = UnityGymEnv(config(make_player(players, "Basic"), tmp_path, base_port=env.config.base_port))
    try:
        assert again.worker_id == env.worker_id
    finally:
        again.close()


def test_player_that_stops_answering_times_out(players: Path, tmp_path: Path) -> None:
    env = UnityGymEnv(config(make_player(players, "Basic", ["--hang-after-steps", "2"]), tmp_path, timeout_wait=2))
    try:
        env.reset()
        env.step(0)
        started = time.monotonic()
        with pytest.raises(UnityPlayerError, match=r"(?s)UnityTimeOutException.*timeout_wait 2 s"):
            env.step(0)
        assert time.monotonic() - started < 10
    finally:
        env.close()


def test_player_that_never_connects(players: Path, tmp_path: Path) -> None:
    with pytest.raises(UnityPlayerError, match="(?s)did not start.*UnityTimeOutException"):
        UnityGymEnv(config(make_player(players, "Basic", ["--startup-delay", "30"]), tmp_path, timeout_wait=2))


# Finding the game ---------------------------------------------------------------------------------------------------


def test_train_channel_file_folder_and_search(tmp_path: Path) -> None:
    channel = tmp_path / "train"
    player = make_player(channel / "basic_env_linux", "Basic", executable=False)
    assert not player.stat().st_mode & 0o111
    by_file = find_player(UnityConfig(env_name="basic_env_linux/Basic.x86_64", train_dir=str(channel)))
    assert by_file == player and player.stat().st_mode & 0o100  # made executable
    assert find_player(UnityConfig(env_name="basic_env_linux", train_dir=str(channel))) == player  # a folder
    assert find_player(UnityConfig(env_name="Basic", train_dir=str(channel))) == player  # searched by name
    assert find_player(UnityConfig(env_name=str(player))) == player  # an absolute path
    make_player(channel / "other", "Other")
    several = r"several Unity players \(basic_env_linux/Basic.x86_64, other/Other.x86_64\)"
    with pytest.raises(EnvConfigError, match=several):
        find_player(UnityConfig(env_name=".", train_dir=str(channel)))
    (channel / "empty").mkdir()
    with pytest.raises(EnvConfigError, match="folder without a Linux Unity player"):
        find_player(UnityConfig(env_name="empty", train_dir=str(channel)))


def test_unknown_registry_id_offline_says_how_to_provide_the_player(tmp_path: Path) -> None:
    channel = tmp_path / "train"
    make_player(channel, "MyGame")
    settings = UnityConfig(
        env_name="Walker",
        train_dir=str(channel),
        cache_dir=str(tmp_path / "cache"),
        registry_url="http://127.0.0.1:9/manifest.yaml",
        download_timeout_s=5,
    )
    with pytest.raises(EnvConfigError) as failure:
        find_player(settings)
    message = str(failure.value)
    assert "Cannot find the Unity game 'Walker'" in message
    assert "players there: MyGame.x86_64" in message
    assert "http://127.0.0.1:9/manifest.yaml could not be read" in message
    assert "'train' channel" in message and "env_name" in message and "registry_manifest" in message
    with pytest.raises(EnvConfigError, match="downloads are off"):
        find_player(UnityConfig(env_name="Basic", cache_dir=str(tmp_path / "cache"), download=False))


def _zip_build(tmp_path: Path, name: str) -> Path:
    build = make_player(tmp_path / "build" / f"{name}_linux", name)
    archive = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(build.parent.rglob("*")):
            out.write(path, path.relative_to(build.parent.parent))
    return archive


def test_local_registry_manifest_and_cache(players: Path, tmp_path: Path) -> None:
    archive = _zip_build(tmp_path, "Basic")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(
        f"environments:\n  - Basic:\n      expected_reward: 0.93\n      linux_url: {archive.as_uri()}\n"
    )
    cache = tmp_path / "cache"
    settings = {"env_name": "Basic", "registry_manifest": str(manifest), "cache_dir": str(cache), "download": False}
    prepared = prepare_env_config("Unity", settings)
    player = Path(prepared["player"])
    expected_folder = cache / f"Basic-{hashlib.md5(archive.as_uri().encode()).hexdigest()}"
    assert player == expected_folder / "Basic_linux" / "Basic.x86_64" and player.stat().st_mode & 0o100
    # The extracted build is a cached binary now: found again without the manifest, and without the zip.
    archive.unlink()
    assert find_player(UnityConfig(env_name="Basic", cache_dir=str(cache), download=False)) == player
    assert find_player(UnityConfig(**settings)) == player
    env = make_env(
        "unity:Basic",
        {
            **config(player, tmp_path),
            "player": None,
            "registry_manifest": str(manifest),
            "cache_dir": str(cache),
            "download": False,
        },
    )
    try:
        assert env.reset()[0].argmax() == 10
    finally:
        env.close()
    manifest.write_text("environments:\n  - Basic:\n      linux_url: http://127.0.0.1:9/Basic.zip\n")
    cannot = r"Cannot download the Unity game 'Basic' from http://127.0.0.1:9/Basic.zip"
    with pytest.raises(EnvConfigError, match=cannot):
        find_player(UnityConfig(env_name="Basic", registry_manifest=str(manifest), cache_dir=str(tmp_path / "c2")))


def test_env_config_is_checked() -> None:
    with pytest.raises(EnvConfigError, match=r"unknown Unity env_config key 'env_nme'. Did you mean 'env_name'\?"):
        UnityConfig.from_mapping({"env_nme": "Basic"})
    both = r"'base_port' must be an integer >= 1.*'no_graphics' must be true or false"
    with pytest.raises(EnvConfigError, match=both):
        UnityConfig.from_mapping({"base_port": "5005", "no_graphics": "yes"})
    with pytest.raises(EnvConfigError, match="does not exist"):
        prepare_env_config("Unity", {"player": "/nonexistent/Basic.x86_64"})
    assert UnityConfig.from_mapping({"num_envs": 4}).first_worker_id() == 0
    # rl.training.config.horizon arrives as max_episode_steps: accepted by the one-time preparation too.
    assert UnityConfig.from_mapping({"max_episode_steps": 9, "worker_index": 2}).first_worker_id() == 32


def test_registry_ids() -> None:
    assert canonical_env_id("Basic") == "unity:Basic"
    assert canonical_env_id("3DBall") == "unity-multi:3DBall"
    assert env_info("unity:Anything").entry_point == "envs.unity.gym_env:make_unity_env"
    assert env_info("unity-multi:3DBall").multi_agent and env_info("UnityMultiAgent").job_context
    assert not env_info("CartPole-v1").job_context
