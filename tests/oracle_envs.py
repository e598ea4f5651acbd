"""An independent count of every training episode, for tests/jobs/test_episode_oracle_jobs.py.

``oracle_envs:Oracle-<id>`` is the real environment ``<id>`` inside gymnasium's own ``RecordEpisodeStatistics``
(nothing of rlrt's); each episode it finishes is appended, as the wrapper reported it, to a JSON-lines file of the
process in the folder named by :data:`ORACLE_DIR`. ``limit`` truncates episodes inside the count (gymnasium's
``max_episode_steps`` would wrap the TimeLimit outside it). ``Oracle-Counting-v0``: reward ``t`` on step ``t``,
truncated after ``limit`` steps, so an episode of length ``l`` returns ``l (l + 1) / 2`` exactly.
``Oracle-DeepRacer-v0`` is rlrt's DeepRacer-compatible track with its default oval and reward function.
``Oracle-Vector-CartPole-v1`` also registers a vectorised form, as gymnasium's CartPole does: gymnasium's own
``CartPoleVectorEnv`` inside gymnasium's vector ``RecordEpisodeStatistics``, recording the same way.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ORACLE_DIR = "RLRT_TEST_ORACLE_DIR"
INNER = ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "ReacherBulletEnv-v0", "DeepRacer-v0", "Counting-v0")


class Counting(gym.Env):
    """Reward ``t`` on step ``t``; never terminates (``limit`` truncates it)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return np.array([self.t % 2, float(action)], np.float32), float(self.t), False, False, {}


class Recorded(gym.Wrapper):
    """Appends each episode gymnasium's ``RecordEpisodeStatistics`` finished to this process's file."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(gym.wrappers.RecordEpisodeStatistics(env))
        self.path = Path(os.environ[ORACLE_DIR]) / f"episodes-{os.getpid()}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            stats = info["episode"]
            line = {
                "r": float(stats["r"]),
                "l": int(stats["l"]),
                "terminated": bool(terminated),
                "time": time.time(),
                "pid": os.getpid(),
            }
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
        return obs, reward, terminated, truncated, info


class RecordedVector(gym.vector.VectorWrapper):
    """Appends each episode gymnasium's vector ``RecordEpisodeStatistics`` finished to this process's file, in the
    order of the envs that finished it on one step."""

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(gym.wrappers.vector.RecordEpisodeStatistics(env))
        self.path = Path(os.environ[ORACLE_DIR]) / f"episodes-{os.getpid()}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def step(self, actions: Any) -> Any:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        if "episode" in infos:
            stats = infos["episode"]
            with self.path.open("a", encoding="utf-8") as handle:
                for i in np.flatnonzero(infos["_episode"]):
                    line = {
                        "r": float(stats["r"][i]),
                        "l": int(stats["l"][i]),
                        "terminated": bool(terminations[i]),
                        "time": time.time(),
                        "pid": os.getpid(),
                    }
                    handle.write(json.dumps(line) + "\n")
        return obs, rewards, terminations, truncations, infos


def make_vector(num_envs: int, inner: str = "CartPole-v1", **kwargs: Any) -> gym.vector.VectorEnv:
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    return RecordedVector(CartPoleVectorEnv(num_envs=num_envs, **kwargs))


def make(inner: str, limit: int | None = None, **kwargs: Any) -> gym.Env:
    if inner == "Counting-v0":
        env: gym.Env = Counting()
    elif inner == "DeepRacer-v0":  # rlrt's track, built as its registry builds it (the default oval and reward)
        from envs.registry import make_env

        env = gym.wrappers.DtypeObservation(make_env(inner, kwargs), np.float32)  # RLlib's conv layers take floats
    else:
        if inner.endswith("BulletEnv-v0"):
            import pybullet_envs_gymnasium  # noqa: F401 - registers the PyBullet robots
        env = gym.make(inner, **kwargs)
    if limit is not None:
        env = gym.wrappers.TimeLimit(env, int(limit))
    return Recorded(env)


for _inner in INNER:
    gym.register(f"Oracle-{_inner}", entry_point=make, kwargs={"inner": _inner}, disable_env_checker=True)
gym.register(
    "Oracle-Vector-CartPole-v1",
    entry_point=make,
    kwargs={"inner": "CartPole-v1"},
    vector_entry_point=make_vector,
    max_episode_steps=500,
    disable_env_checker=True,
)


def episodes(folder: Path) -> dict[int, list[dict[str, Any]]]:
    """Every recorded episode, by process, each process's in the order they ended."""
    found: dict[int, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("episodes-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.setdefault(record["pid"], []).append(record)
    return found
