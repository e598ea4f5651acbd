"""RLlib 1.x's ``output`` setting on rlrt's online jobs: every episode the env runners finish is written in the rollout
format ``rlrt collect`` writes and the offline backend reads (one row per step: ``state_feature_*``, ``action`` or
``action_*``, ``all_action_probabilities`` for discrete actions, ``episode_id``, ``reward``, ``cumulative_rewards``).

The behaviour policy's probabilities are the ones the env runner drew the action from (the softmax of the module's
``action_dist_inputs`` for that step), so a later offline job can evaluate its policy off-policy against them.

Each env runner buffers the episodes that end during one ``sample()`` call and writes them, at its end, to
``<folder>/rollouts-<runner>-<pid>-<n>.csv`` (RLlib's callbacks ``on_episode_end`` and ``on_sample_end``).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from runtime.config.spec import TrainingSpec
from runtime.errors import UserError
from runtime.evaluate.episodes import flat_observation
from runtime.names import OUTPUT_DATA_DIR
from runtime.offline.collect import (
    ACTION,
    CUMULATIVE_REWARDS,
    EPISODE_ID,
    PROBABILITIES,
    REWARD,
    STATE_PREFIX,
    write_rollouts,
)

OUTPUT_SETTING = "output"
"""``rl.training.config.output``: the folder (or RLlib 1.x's ``"logdir"``: the job's ``output/intermediate``)."""
LOGDIR = "logdir"
ROWS = "_rlrt_output_rows"
COUNTER = "_rlrt_output_files"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return np.asarray(shifted / shifted.sum())


def episode_rows(chunks: list[Any], episode_id: str) -> list[dict[str, Any]]:
    """The rollout rows of one finished episode given as its chunks, oldest first."""
    rows: list[dict[str, Any]] = []
    total = 0.0
    for chunk in chunks:
        observations = chunk.get_observations()
        actions = chunk.get_actions()
        rewards = chunk.get_rewards()
        try:
            inputs = chunk.get_extra_model_outputs("action_dist_inputs")
        except (KeyError, IndexError, AttributeError):
            inputs = None
        for t in range(len(rewards)):
            row: dict[str, Any] = {}
            action = np.asarray(actions[t])
            if action.ndim == 0 and np.issubdtype(action.dtype, np.integer):
                row[ACTION] = int(action)
                if inputs is not None:
                    row[PROBABILITIES] = [float(p) for p in _softmax(np.asarray(inputs[t], dtype=np.float64))]
            else:
                for j, value in enumerate(action.reshape(-1)):
                    row[f"{ACTION}_{j}"] = float(value)
            reward = float(rewards[t])
            total += reward
            row[EPISODE_ID] = episode_id
            row[REWARD] = reward
            row[CUMULATIVE_REWARDS] = 0.0
            for j, value in enumerate(flat_observation(observations[t], np.float64)):
                row[f"{STATE_PREFIX}{j}"] = float(value)
            rows.append(row)
    if rows:
        rows[-1][CUMULATIVE_REWARDS] = total
    return rows


def on_episode_end(
    folder: str, *, episode: Any, env_runner: Any = None, prev_episode_chunks: Any = None, **_: Any
) -> None:
    """RLlib's ``on_episode_end``: buffer the finished episode's rows on the env runner."""
    if env_runner is None:
        return
    chunks = [*(prev_episode_chunks or []), episode]
    episode_id = f"{getattr(env_runner, 'worker_index', 0)}-{os.getpid()}-{episode.id_}"
    env_runner.__dict__.setdefault(ROWS, []).extend(episode_rows(chunks, episode_id))


def on_sample_end(folder: str, *, env_runner: Any = None, **_: Any) -> None:
    """RLlib's ``on_sample_end``: write the buffered rows to a new file of the folder."""
    rows = env_runner.__dict__.pop(ROWS, None) if env_runner is not None else None
    if not rows:
        return
    counter = env_runner.__dict__.setdefault(COUNTER, itertools.count())
    name = f"rollouts-{getattr(env_runner, 'worker_index', 0)}-{os.getpid()}-{next(counter):06d}.csv"
    write_rollouts(rows, Path(folder) / name)


def episode_output(spec: TrainingSpec, job: Any, out: TextIO) -> TrainingSpec:
    """RLlib 1.x's ``output``: the folder the env runners write every finished episode to (rollout format),
    made absolute (``"logdir"``: ``output/intermediate/rollouts``; a relative path: under ``output/data``, which
    SageMaker uploads), with one line saying where."""
    given = spec.config.get(OUTPUT_SETTING)
    if not given:
        return spec
    given = str(given)
    if given == LOGDIR:
        folder = job.intermediate_dir / "rollouts"
    elif Path(given).is_absolute():
        folder = job.in_tree(Path(given))  # /opt/ml/output/data/...: the job's own tree in a local job
    else:
        folder = job.base_dir / OUTPUT_DATA_DIR / given
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"rl.training.config.output: cannot create {folder}: {exc}") from exc
    print(
        f"rlrt: every finished episode is written to {folder} (rlrt's rollout format: an offline job reads it "
        "with rl.training.config.input)",
        file=out,
        flush=True,
    )
    return replace(spec, config={**spec.config, OUTPUT_SETTING: str(folder)})
