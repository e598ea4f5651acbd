"""``rlrt collect``: roll out N environments under a behaviour policy given as action probabilities.

This is the seeds' ``VectoredGymEnvironment.collect_rollouts_with_given_action_probs`` (Batch RL notebook): every env
``i`` acts by sampling from its own probability vector ``p_i`` (uniform random, a fixed list, or the
``predictions`` a Batch Transform job returned for env ``i``'s state), until each env has finished
``num_episodes`` episodes. The output is the seeds' rollout CSV, one row per step, rows of all envs interleaved in
step order (at each step, env 0, env 1, ...; envs that finished their episodes drop out):

``action, all_action_probabilities, episode_id, reward, cumulative_rewards, state_feature_0 .. state_feature_{k-1}``

``all_action_probabilities`` is the list the action was drawn from (``"[0.5, 0.5]"`` in CSV, a list column in
Parquet), ``cumulative_rewards`` is the episode's (undiscounted) return on its last step and 0 on the others, and
``state_feature_j`` is the observation the action was taken in. Episode ids are unique, numbered in the order
episodes start (the first N are 0 .. N-1). Continuous-action environments (``Box``) are collected under a uniform
random policy; their actions go to ``action_0 .. action_{m-1}`` and there is no probability column.

``dump_states`` resets the same envs with the same seed and writes their first observations, one JSON list of
floats per line (the Batch Transform input of the seeds' flow); ``collect`` with the same seed starts from exactly
those states, so the predictions read back from Batch Transform belong to the states they were computed for.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from gymnasium import spaces

from envs.registry import UnknownEnvironmentError, make_env
from runtime.errors import UserError
from runtime.paths import FILE, guarded, output_file, replaced_atomically, require_file
from runtime.serving.codec import ACTION_PROBABILITIES
from runtime.serving.model_store import OnnxPolicy, locate_model

PROBABILITY_TOLERANCE = 1e-4
"""How far from 1 a probability vector's sum may be (float rounding of serialized predictions)."""
MAX_DISCRETE_ACTIONS = 2**31
"""A discrete action index must fit int32 (larger ones overflowed int64 into negative indices)."""

ACTION = "action"
PROBABILITIES = "all_action_probabilities"
EPISODE_ID = "episode_id"
REWARD = "reward"
CUMULATIVE_REWARDS = "cumulative_rewards"
STATE_PREFIX = "state_feature_"


@dataclass(frozen=True)
class CollectSummary:
    """What a collection produced."""

    path: Path
    rows: int
    episodes: int
    mean_return: float
    num_envs: int


def _make_envs(env_id: str, num_envs: int, env_config: Mapping[str, Any] | None) -> list[Any]:
    try:
        return [make_env(env_id, dict(env_config or {})) for _ in range(num_envs)]
    except UnknownEnvironmentError as exc:
        raise UserError(str(exc)) from exc
    except TypeError as exc:  # gymnasium.make passes env_config as keyword arguments to the env's constructor
        unexpected = re.search(r"unexpected keyword argument '([^']*)'", str(exc))
        if unexpected is None:
            raise
        raise UserError(
            f"{env_id} does not take the --env-config key '{unexpected.group(1)}' (its constructor has "
            f"no such argument; given {json.dumps(dict(env_config or {}), default=str)[:200]})."
        ) from exc


def check_probabilities(probs: Sequence[float], n_actions: int, where: str) -> np.ndarray:
    """``probs`` as an array after checking it is a probability vector over ``n_actions`` actions."""
    try:
        array = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: action probabilities must be a list of numbers, got {probs!r}.") from exc
    if array.ndim != 1 or array.shape[0] != n_actions:
        raise UserError(
            f"{where}: expected {n_actions} action probabilities, got {json.dumps(np.asarray(probs).tolist())}."
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise UserError(f"{where}: action probabilities must be finite and >= 0, got {array.tolist()}.")
    if abs(float(array.sum()) - 1.0) > PROBABILITY_TOLERANCE:
        raise UserError(f"{where}: action probabilities must sum to 1, got {array.tolist()} (sum {array.sum():.6g}).")
    return np.asarray(array / array.sum(), dtype=np.float64)


def read_batch_transform_output(path: Path) -> list[list[float]]:
    """The action-probability vectors in a Batch Transform output file, one per line.

    A line is ``{"predictions": [[p0, p1, ...]]}`` (``predictions[0]`` is the probability list), or, when the job
    joined its input (``join_source='Input'``), ``{"SageMakerOutput": {"predictions": ...}, ...}``. A bare
    ``{"predictions": [p0, p1]}`` (one flat list) is accepted too.
    """
    require_file(path, "The --policy-file (a Batch Transform output file)")
    with guarded(path, "The --policy-file", FILE):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:  # a binary file, or one saved as UTF-16
            raise UserError(
                f"The --policy-file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}): give "
                "the JSON-lines file a Batch Transform (or `rlrt transform`) wrote."
            ) from exc
    vectors: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from exc
        if isinstance(record, dict) and isinstance(record.get("SageMakerOutput"), dict):
            record = record["SageMakerOutput"]
        if not isinstance(record, dict) or "predictions" not in record:
            raise UserError(
                f"{path}, line {number}: expected an object with 'predictions' (or 'SageMakerOutput.predictions'), "
                f"got {line[:200]!r}."
            )
        predictions = record["predictions"]
        if isinstance(predictions, list) and predictions and isinstance(predictions[0], list):
            predictions = predictions[0]
        if not isinstance(predictions, list) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in predictions
        ):
            raise UserError(
                f"{path}, line {number}: 'predictions' must hold a list of probabilities, got {predictions!r}."
            )
        vectors.append([float(p) for p in predictions])
    if not vectors:
        raise UserError(f"Batch Transform output file {path} holds no predictions.")
    return vectors


def behaviour_probabilities(
    num_envs: int,
    n_actions: int,
    probabilities: Sequence[float] | Sequence[Sequence[float]] | None = None,
    source: str = "--probabilities",
) -> np.ndarray:
    """An ``(num_envs, n_actions)`` array: uniform when ``probabilities`` is None, else one vector for all envs or
    one per env (checked)."""
    if probabilities is None:
        return np.full((num_envs, n_actions), 1.0 / n_actions)
    rows: list[Any] = list(probabilities)  # one vector's numbers, or one vector per env
    if rows and not isinstance(rows[0], (list, tuple, np.ndarray)):
        rows = [rows] * num_envs  # one vector for every env
    if len(rows) == 1 and num_envs > 1:
        rows = rows * num_envs
    if len(rows) != num_envs:
        raise UserError(
            f"{source}: {len(rows)} probability vectors for {num_envs} environments; give one, or one per env."
        )
    return np.stack([check_probabilities(row, n_actions, f"{source}, env {i}") for i, row in enumerate(rows)])


def _observation(obs: Any) -> np.ndarray:
    return np.asarray(obs, dtype=np.float64).reshape(-1)


def dump_states(
    env_id: str, num_envs: int, path: Path, seed: int = 0, env_config: Mapping[str, Any] | None = None
) -> int:
    """Reset ``num_envs`` envs (env ``i`` seeded ``seed + i``) and write each first observation as a JSON line."""
    output_file(path, "The --dump-states file")
    envs = _make_envs(env_id, num_envs, env_config)
    try:
        lines = []
        for i, env in enumerate(envs):
            obs, _ = env.reset(seed=seed + i)
            lines.append(json.dumps([float(x) for x in _observation(obs)]) + "\n")
    finally:
        for env in envs:
            env.close()
    with replaced_atomically(path, "The --dump-states file") as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
    return num_envs


def collect(
    env_id: str,
    num_envs: int,
    num_episodes: int,
    output: Path,
    probabilities: Sequence[float] | Sequence[Sequence[float]] | None = None,
    seed: int = 0,
    env_config: Mapping[str, Any] | None = None,
    progress: bool = True,
    probabilities_source: str = "--probabilities",
    policy: Callable[[np.ndarray], np.ndarray] | None = None,
) -> CollectSummary:
    """Collect ``num_episodes`` episodes from each of ``num_envs`` envs; write CSV or Parquet (by ``output``'s suffix).

    Env ``i`` is reset with seed ``seed + i`` (then continues its own random stream); actions are drawn from one
    ``numpy`` generator seeded ``seed``, so the same arguments give the same file. ``policy`` (discrete actions only)
    maps the envs' current observations ``[num_envs, obs_dim]`` to action probabilities ``[num_envs, n_actions]`` at
    every step (a deployed model); otherwise each env keeps the fixed ``probabilities``.
    """
    from tqdm import tqdm  # heavy: progress bars

    if num_envs < 1 or num_episodes < 1:
        raise UserError("--num-envs and --num-episodes must be >= 1.")
    output_file(output, "The --output file")  # before any episode: a path that cannot be written fails at once
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserError(f"Output file {output} must end in .csv or .parquet.")
    envs = _make_envs(env_id, num_envs, env_config)
    action_space = envs[0].action_space
    discrete = isinstance(action_space, spaces.Discrete)
    if not discrete and not isinstance(action_space, spaces.Box):
        raise UserError(
            f"{env_id} has a {type(action_space).__name__} action space; collect supports Discrete and Box."
        )
    if policy is not None and not discrete:
        raise UserError(
            f"{env_id} has continuous actions: a model's action probabilities apply to discrete actions only."
        )
    if discrete:
        probs = behaviour_probabilities(num_envs, int(action_space.n), probabilities, probabilities_source)
    elif probabilities is not None:
        raise UserError(f"{env_id} has continuous actions: action probabilities apply to discrete actions only.")
    else:
        probs = None
    rng = np.random.default_rng(seed)
    low = high = None
    if not discrete:
        low, high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise UserError(f"{env_id}'s action space is unbounded; a uniform random policy needs bounds.")

    rows: list[dict[str, Any]] = []
    returns: list[float] = []
    next_episode = num_envs
    obs = []
    try:
        for i, env in enumerate(envs):
            o, _ = env.reset(seed=seed + i)
            env.action_space.seed(seed + i)
            obs.append(_observation(o))
        episode_ids = list(range(num_envs))
        finished = [0] * num_envs
        episode_return = [0.0] * num_envs
        with tqdm(total=num_envs * num_episodes, desc="collect", unit="episode", disable=not progress) as bar:
            while any(f < num_episodes for f in finished):
                if policy is not None:
                    predicted = np.asarray(policy(np.stack(obs)), dtype=np.float64)
                    probs = np.stack(
                        [
                            check_probabilities(row, int(action_space.n), f"{probabilities_source}, env {i}")
                            for i, row in enumerate(predicted)
                        ]
                    )
                for i, env in enumerate(envs):
                    if finished[i] >= num_episodes:
                        continue
                    row: dict[str, Any] = {}
                    if discrete:
                        assert probs is not None  # set above for discrete actions
                        p = probs[i]
                        action: Any = int(rng.choice(len(p), p=p))
                        row[ACTION] = action
                        row[PROBABILITIES] = [float(x) for x in p]
                    else:
                        assert low is not None and high is not None  # set above for continuous actions
                        action = rng.uniform(low, high).astype(action_space.dtype)
                        for j, value in enumerate(np.asarray(action).reshape(-1)):
                            row[f"{ACTION}_{j}"] = float(value)
                    o, reward, terminated, truncated, _ = env.step(action)
                    reward = float(reward)
                    episode_return[i] += reward
                    row[EPISODE_ID] = episode_ids[i]
                    row[REWARD] = reward
                    done = bool(terminated or truncated)
                    row[CUMULATIVE_REWARDS] = episode_return[i] if done else 0.0
                    for j, value in enumerate(obs[i]):
                        row[f"{STATE_PREFIX}{j}"] = float(value)
                    rows.append(row)
                    if done:
                        returns.append(episode_return[i])
                        finished[i] += 1
                        bar.update(1)
                        episode_return[i] = 0.0
                        if finished[i] < num_episodes:
                            o, _ = env.reset()
                            episode_ids[i] = next_episode
                            next_episode += 1
                    obs[i] = _observation(o)
    finally:
        for env in envs:
            env.close()
    write_rollouts(rows, output)
    return CollectSummary(output, len(rows), len(returns), float(np.mean(returns)) if returns else math.nan, num_envs)


def write_rollouts(rows: list[dict[str, Any]], output: Path) -> None:
    """Write rollout rows in the seeds' column order: CSV (probabilities as ``"[p0, p1]"``) or Parquet."""
    import pandas as pd  # heavy: pandas (offline data only)

    frame = pd.DataFrame(rows)
    first = [c for c in (ACTION, PROBABILITIES, EPISODE_ID, REWARD, CUMULATIVE_REWARDS) if c in frame.columns]
    actions = sorted((c for c in frame.columns if c.startswith(f"{ACTION}_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    states = sorted((c for c in frame.columns if c.startswith(STATE_PREFIX)), key=lambda c: int(c[len(STATE_PREFIX) :]))
    frame = frame[actions + first + states] if actions else frame[first + states]
    if output.suffix.lower() != ".parquet" and PROBABILITIES in frame.columns:
        frame[PROBABILITIES] = frame[PROBABILITIES].map(json.dumps)
    with replaced_atomically(output, "The --output file") as tmp:
        if output.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)


def model_policy(model: Path, env_id: str = "the environment") -> Callable[[np.ndarray], np.ndarray]:
    """A trained model's action probabilities for a batch of observations, computed as Batch Transform and the
    endpoint compute them (the model's ONNX policy in ONNX Runtime; ``predictions[0]`` of their output); a
    UserError naming both shapes when ``env_id``'s observations are not the model's."""
    onnx_policy = OnnxPolicy(locate_model(model))
    if ACTION_PROBABILITIES not in onnx_policy.outputs:
        raise UserError(f"The model in {model} gives no action probabilities (a discrete policy is needed).")

    def probabilities(observations: np.ndarray) -> np.ndarray:
        if observations.shape[1:] != (onnx_policy.observation_dim,):
            raise UserError(
                f"The model in {model} takes observations of shape ({onnx_policy.observation_dim},); "
                f"{env_id}'s are {tuple(observations.shape[1:])}: collect with the environment the "
                "model was trained on (its metadata.json names it)."
            )
        return onnx_policy.predict(observations.astype(np.float32))[ACTION_PROBABILITIES]

    return probabilities
