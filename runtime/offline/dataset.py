"""Logged rollouts (the ``train`` channel) into a checked :class:`LoggedData` and a d3rlpy ``MDPDataset``.

Input: the seeds' rollout format (see :mod:`runtime.offline.collect`), as CSV or Parquet, and RLlib 1.x's JSON
sample batches (:mod:`runtime.offline.rllib_json`), one file or a folder of them, or the several files, folders and
glob patterns ``rl.training.config.input`` names (:mod:`runtime.offline.sources`). Rows are grouped by
``episode_id`` (in each file separately) keeping their order within the file, so the rows of many envs may be
interleaved. ``all_action_probabilities`` (the behaviour policy's probabilities when the action was logged) is kept
for off-policy evaluation; without it, training still works and only FQE is reported.

Every kind of bad data is a :class:`UserError` naming the file, the row (1-based data row; in a CSV file also its
line number, the header being line 1) and the column; nothing is silently dropped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from runtime.errors import UserError
from runtime.offline.collect import (
    ACTION,
    EPISODE_ID,
    MAX_DISCRETE_ACTIONS,
    PROBABILITIES,
    PROBABILITY_TOLERANCE,
    REWARD,
    STATE_PREFIX,
)
from runtime.offline.rllib_json import load_rllib_json
from runtime.offline.sources import RLLIB_SUFFIX, source_files


@dataclass(frozen=True)
class Episode:
    """One logged episode (views into the arrays of :class:`LoggedData`)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    behaviour_probs: np.ndarray | None
    terminated: bool


@dataclass(frozen=True)
class LoggedData:
    """Logged transitions, episodes contiguous and in step order."""

    observations: np.ndarray
    """(T, k) float32 states the actions were taken in."""
    actions: np.ndarray
    """(T,) int64 for discrete actions, (T, m) float32 for continuous ones."""
    rewards: np.ndarray
    """(T,) float32."""
    episode_bounds: np.ndarray
    """(E + 1,) indices: episode e is rows ``bounds[e]:bounds[e + 1]``."""
    terminated: np.ndarray
    """(E,) bool: whether episode e ended in a terminal state (else it was cut off by a time limit)."""
    behaviour_probs: np.ndarray | None
    """(T, n_actions) float64 logged action probabilities, or None when the data has none; NaN but for the logged
    action where the data recorded only that one's (RLlib's ``action_prob``): OPE reads only the logged action's."""
    discrete: bool
    n_actions: int
    """Number of discrete actions, or the action dimension for continuous actions."""
    files: tuple[Path, ...]

    @property
    def num_episodes(self) -> int:
        return len(self.episode_bounds) - 1

    @property
    def num_transitions(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def observation_size(self) -> int:
        return int(self.observations.shape[1])

    def episodes(self) -> Iterator[Episode]:
        """The episodes in order."""
        for e in range(self.num_episodes):
            a, b = int(self.episode_bounds[e]), int(self.episode_bounds[e + 1])
            yield Episode(
                self.observations[a:b],
                self.actions[a:b],
                self.rewards[a:b],
                None if self.behaviour_probs is None else self.behaviour_probs[a:b],
                bool(self.terminated[e]),
            )

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of each episode."""
        if not self.num_episodes:
            return np.zeros(0)
        return np.add.reduceat(self.rewards.astype(np.float64), self.episode_bounds[:-1])

    def to_d3rlpy(self) -> Any:
        """A d3rlpy ``MDPDataset`` of the same transitions."""
        from d3rlpy.constants import ActionSpace  # heavy: d3rlpy (offline jobs only)
        from d3rlpy.dataset import MDPDataset  # heavy: d3rlpy (offline jobs only)

        terminals = np.zeros(self.num_transitions, dtype=np.float32)
        timeouts = np.zeros(self.num_transitions, dtype=np.float32)
        last = self.episode_bounds[1:] - 1
        terminals[last[self.terminated]] = 1.0
        timeouts[last[~self.terminated]] = 1.0
        return MDPDataset(
            observations=self.observations,
            actions=self.actions,
            rewards=self.rewards,
            terminals=terminals,
            timeouts=timeouts,
            action_space=ActionSpace.DISCRETE if self.discrete else ActionSpace.CONTINUOUS,
            action_size=self.n_actions,
        )


def _where(path: Path, row: int, column: str | None = None) -> str:
    line = f" (line {row + 1})" if path.suffix.lower() == ".csv" else ""
    col = f", column '{column}'" if column else ""
    return f"{path}, row {row}{line}{col}"


def _read_frame(path: Path) -> Any:
    import pandas as pd  # heavy: pandas (offline data only)

    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty (0 bytes): expected rollout rows with a header line.")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise UserError(f"{path} is empty: expected rollout rows with a header line.") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UserError(f"Cannot read {path}: {exc}") from exc
    if len(frame) == 0:
        raise UserError(f"{path} has a header but no rows.")
    return frame


def _numeric_column(frame: Any, column: str, path: Path, allow_nonfinite: bool = True) -> np.ndarray:
    values = frame[column].tolist()
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        try:
            if isinstance(value, str):
                if not value.strip():
                    raise ValueError
                number = float(value)
            elif isinstance(value, bool) or value is None:
                raise ValueError
            else:
                number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{_where(path, i + 1, column)}: {value!r} is not a number.") from None
        if not allow_nonfinite and not math.isfinite(number):
            raise UserError(f"{_where(path, i + 1, column)}: {value!r} is not a finite number.")
        out[i] = number
    return out


def _parse_probabilities(value: Any, path: Path, row: int) -> list[float]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deeply
            parsed = None
    else:
        parsed = value.tolist() if isinstance(value, np.ndarray) else value
    if (
        not isinstance(parsed, (list, tuple))
        or not parsed
        or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parsed)
    ):
        raise UserError(f"{_where(path, row, PROBABILITIES)}: {value!r} is not a list of numbers such as [0.5, 0.5].")
    return [float(p) for p in parsed]


def _load_file(path: Path) -> dict[str, Any]:
    frame = _read_frame(path)
    columns = list(frame.columns)
    state_cols = [c for c in columns if c.startswith(STATE_PREFIX) and c[len(STATE_PREFIX) :].isdigit()]
    state_cols.sort(key=lambda c: int(c[len(STATE_PREFIX) :]))
    action_cols = [c for c in columns if c.startswith(f"{ACTION}_") and c[len(ACTION) + 1 :].isdigit()]
    action_cols.sort(key=lambda c: int(c[len(ACTION) + 1 :]))
    discrete = ACTION in columns
    missing = [c for c in (EPISODE_ID, REWARD) if c not in columns]
    if not discrete and not action_cols:
        missing.insert(0, ACTION)
    if not state_cols:
        missing.append(f"{STATE_PREFIX}0 ...")
    if missing:
        raise UserError(
            f"{path}: missing column(s) {', '.join(repr(m) for m in missing)}. Rollout files need "
            f"'{ACTION}' (or '{ACTION}_0..'), '{EPISODE_ID}', '{REWARD}', '{STATE_PREFIX}0..' and, for off-policy "
            f"evaluation, '{PROBABILITIES}'. Found: {', '.join(map(str, columns))}."
        )
    expected = [f"{STATE_PREFIX}{j}" for j in range(len(state_cols))]
    if state_cols != expected:
        gap = next(e for e, s in zip(expected, state_cols + [""]) if e != s)
        raise UserError(f"{path}: state feature columns must be numbered from 0 without gaps; '{gap}' is missing.")

    states = np.stack([_numeric_column(frame, c, path, allow_nonfinite=False) for c in state_cols], axis=1)
    rewards = _numeric_column(frame, REWARD, path, allow_nonfinite=False)
    episode_raw = frame[EPISODE_ID].tolist()
    for i, value in enumerate(episode_raw):
        if (
            value is None
            or (isinstance(value, str) and not value.strip())
            or (isinstance(value, float) and math.isnan(value))
        ):
            raise UserError(f"{_where(path, i + 1, EPISODE_ID)}: the episode id is empty.")
    episode_ids = [str(v).strip() for v in episode_raw]

    probs = None
    if discrete:
        raw = _numeric_column(frame, ACTION, path, allow_nonfinite=False)
        for i, value in enumerate(raw):
            if value < 0 or value >= MAX_DISCRETE_ACTIONS or not float(value).is_integer():
                raise UserError(
                    f"{_where(path, i + 1, ACTION)}: {frame[ACTION].iloc[i]!r} is not a discrete action "
                    f"(an integer from 0 to {MAX_DISCRETE_ACTIONS - 1})."
                )
        actions: np.ndarray = raw.astype(np.int64)
        if PROBABILITIES in columns:
            vectors = [_parse_probabilities(v, path, i + 1) for i, v in enumerate(frame[PROBABILITIES].tolist())]
            n_actions = len(vectors[0])
            for i, vec in enumerate(vectors):
                where = _where(path, i + 1, PROBABILITIES)
                if len(vec) != n_actions:
                    raise UserError(f"{where}: {len(vec)} probabilities, but row 1 has {n_actions}.")
                if not all(math.isfinite(p) and p >= 0 for p in vec):
                    raise UserError(f"{where}: probabilities must be finite and >= 0, got {vec}.")
                total = sum(vec)
                if abs(total - 1.0) > PROBABILITY_TOLERANCE:
                    raise UserError(f"{where}: probabilities {vec} sum to {total:.6g}, not 1.")
                if actions[i] >= n_actions:
                    raise UserError(
                        f"{_where(path, i + 1, ACTION)}: action {actions[i]} is outside the "
                        f"{n_actions} actions of '{PROBABILITIES}'."
                    )
                if vec[actions[i]] <= 0:
                    raise UserError(
                        f"{where}: the logged action {actions[i]} has probability {vec[actions[i]]:g}; a behaviour "
                        "policy cannot have taken an action it gives zero probability."
                    )
            probs = np.asarray(vectors, dtype=np.float64)
            probs /= probs.sum(axis=1, keepdims=True)
        else:
            n_actions = int(actions.max()) + 1
    else:
        actions = np.stack([_numeric_column(frame, c, path, allow_nonfinite=False) for c in action_cols], axis=1)
        n_actions = len(action_cols)

    # Group rows by episode id (first appearance order), keeping their order within the file.
    order: dict[str, list[int]] = {}
    for i, eid in enumerate(episode_ids):
        order.setdefault(eid, []).append(i)
    index = np.fromiter((i for rows in order.values() for i in rows), dtype=np.int64, count=len(episode_ids))
    lengths = np.array([len(rows) for rows in order.values()], dtype=np.int64)
    return {
        "states": states[index],
        "actions": actions[index],
        "rewards": rewards[index],
        "probs": None if probs is None else probs[index],
        "lengths": lengths,
        "discrete": discrete,
        "n_actions": n_actions,
        "path": path,
        "has_probs": probs is not None,
    }


def load_logged_data(path: Path | Sequence[Path], time_limit: int | None = None) -> LoggedData:
    """Load and check every rollout file at ``path`` (a file or a folder, or several: :func:`source_files`).

    ``time_limit``: episodes exactly this long are treated as cut off by the environment's time limit (a timeout,
    bootstrapped) rather than terminated; the rollout format itself does not record which it was.
    """
    files = source_files(path)
    parts = [_load_file(p) for p in files if p.suffix.lower() != RLLIB_SUFFIX]
    rllib = [p for p in files if p.suffix.lower() == RLLIB_SUFFIX]
    if rllib:
        parts.append(load_rllib_json(rllib))  # one part: an episode's batches may lie in several files
    first = parts[0]
    for part in parts[1:]:
        if part["discrete"] != first["discrete"]:
            raise UserError(
                f"{part['path']} and {first['path']} mix discrete ('action') and continuous ('action_0..') actions."
            )
        if part["states"].shape[1] != first["states"].shape[1]:
            raise UserError(
                f"{part['path']} has {part['states'].shape[1]} state features but {first['path']} has "
                f"{first['states'].shape[1]}."
            )
        if part["has_probs"] != first["has_probs"]:
            raise UserError(f"{part['path']} and {first['path']}: only one of them has '{PROBABILITIES}'.")
        if first["has_probs"] and part["n_actions"] != first["n_actions"]:
            raise UserError(
                f"{part['path']} has {part['n_actions']} actions but {first['path']} has {first['n_actions']}."
            )
        if not first["discrete"] and part["n_actions"] != first["n_actions"]:
            raise UserError(
                f"{part['path']} has {part['n_actions']} action columns but {first['path']} has {first['n_actions']}."
            )
    discrete = bool(first["discrete"])
    n_actions = max(p["n_actions"] for p in parts)
    lengths = np.concatenate([p["lengths"] for p in parts])
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    terminated = np.ones(len(lengths), dtype=bool) if time_limit is None else lengths != time_limit
    # An episode the data says did not end (RLlib's batches: the last step not done) is cut off, never terminal.
    terminated &= np.concatenate([p.get("ended", np.ones(len(p["lengths"]), dtype=bool)) for p in parts])
    return LoggedData(
        observations=np.concatenate([p["states"] for p in parts]).astype(np.float32),
        actions=np.concatenate([p["actions"] for p in parts]).astype(np.int64 if discrete else np.float32),
        rewards=np.concatenate([p["rewards"] for p in parts]).astype(np.float32),
        episode_bounds=bounds,
        terminated=terminated,
        behaviour_probs=np.concatenate([p["probs"] for p in parts]) if first["has_probs"] else None,
        discrete=discrete,
        n_actions=int(n_actions),
        files=tuple(f for p in parts for f in p.get("files", (p["path"],))),
    )
