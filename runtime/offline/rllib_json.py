"""RLlib 1.x's offline data: the JSON sample batches its ``output`` setting wrote, read as logged episodes.

The format (ray 1.x ``rllib/offline/json_writer.py``): files ``output-<date>_<time>_worker-<i>_<n>.json``, one JSON
object per line, ``{"type": "SampleBatch", "<column>": <value>, ...}`` (or ``"MultiAgentBatch"`` with
``"policy_batches": {<policy id>: {...}}``). A column's value is a JSON list, or, for the columns in
``output_compress_columns`` (default ``obs`` and ``new_obs``), a string: RLlib's ``compression.pack``, base64 text of
the LZ4 frame of the pickled numpy array (RLlib's reader unpacks every string column the same way).

Columns read: ``obs`` (the observation the action was taken in, flattened), ``actions`` (integers: discrete; floats:
continuous), ``rewards``, ``eps_id`` (rows of one episode may lie in several batches and files), ``dones`` (or RLlib
2.x's ``terminateds``/``truncateds``: whether the episode ended at that step), and when present ``t`` (the step in
the episode: rows are put in its order) and, for discrete actions, ``action_prob`` (else ``exp(action_logp)``): the
behaviour policy's probability of the logged action, which RLlib 1.x's own importance-sampling estimators used.
Every other column is left as it is, undecoded.

Pickled columns are unpickled with a restricted unpickler that builds numpy arrays and nothing else. Every defect is
a :class:`UserError` naming the file, the line (1-based) and the column.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import importlib
import io
import json
import pickle
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from runtime.errors import UserError
from runtime.offline.collect import MAX_DISCRETE_ACTIONS

RLLIB_OUTPUT_GLOB = "output-*.json"
"""The names RLlib 1.x's JsonWriter gives its files; in a folder, the ``.json`` files read as sample batches."""
REQUIRED = ("obs", "actions", "rewards", "eps_id")
DONE_COLUMNS = ("dones", "terminateds")
_NUMPY_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # protocol 2 pickles a numpy array's bytes as _codecs.encode(text, "latin1")
    }
)
"""What a pickled numpy array refers to (numpy 1.x names its modules numpy.core, numpy 2.x numpy._core)."""


class _NumpyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays (and plain Python values); refuses every other class or function."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which is not part of a numpy array")
        if module == "_codecs":
            return codecs.encode
        if module == "numpy":
            return getattr(np, name)
        inner = module.split(".", 2)[2]  # multiarray or numeric
        for package in ("numpy._core", "numpy.core"):
            try:
                return getattr(importlib.import_module(f"{package}.{inner}"), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"this numpy has no {module}.{name}")


def _where(path: Path, line: int, column: str | None = None) -> str:
    return f"{path}, line {line}" + (f", column '{column}'" if column else "")


def unpack_column(text: str, path: Path, line: int, column: str) -> Any:
    """A compressed column (RLlib's ``compression.pack``): base64 -> LZ4 frame -> pickled numpy array."""
    where = _where(path, line, column)
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise UserError(
            f"{where}: the column is a string but not RLlib's compressed form (base64 text); a column "
            "is a JSON list or the base64 of an LZ4-compressed pickled numpy array."
        ) from None
    try:
        import lz4.frame  # heavy: LZ4, only to read RLlib 1.x's compressed sample-batch columns
    except ImportError:
        raise UserError(
            f"{where}: the column is LZ4-compressed (RLlib's output_compress_columns), and the Python "
            "package 'lz4' is not installed in this environment. Install it (pip install lz4), or "
            "write the batches again with output_compress_columns: [] (plain JSON lists)."
        ) from None
    try:
        data = lz4.frame.decompress(raw)
    except Exception as exc:  # noqa: BLE001 - lz4 raises RuntimeError and others for a damaged frame
        raise UserError(f"{where}: the column is not an LZ4 frame ({exc}).") from None
    try:
        return _NumpyUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign pickle fails in many ways, all the user's data
        raise UserError(
            f"{where}: the compressed column is not a pickled numpy array ({exc}). RLlib 1.x pickles "
            "its columns; RLlib 0.x's pyarrow-serialized columns cannot be read: write them again "
            "with output_compress_columns: []."
        ) from None


def _array(value: Any, path: Path, line: int, column: str, kinds: str, what: str) -> np.ndarray:
    """A column as a numpy array of one of the dtype ``kinds`` (numpy's b, i, u, f)."""
    if isinstance(value, str):
        value = unpack_column(value, path, line, column)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        array = None
    if array is None or array.dtype.kind not in kinds or array.ndim == 0:
        raise UserError(
            f"{_where(path, line, column)}: expected a list of {what}, one per step; got {_shortened(value)}."
        )
    return array


def _shortened(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _finite(array: np.ndarray, path: Path, line: int, column: str) -> np.ndarray:
    out = array.astype(np.float64)
    if not out.size:
        return out
    bad = np.flatnonzero(~np.isfinite(out.reshape(len(out), -1)).all(axis=1))
    if len(bad):
        raise UserError(f"{_where(path, line, column)}: step {int(bad[0])} of the batch is not a finite number.")
    return out


def _batches(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, columns)`` of every sample batch in ``path``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read {path}: {exc}") from None
    if not any(text.strip() for text in lines):
        raise UserError(f"{path} is empty: expected RLlib sample batches, one JSON object per line.")
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            batch = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise UserError(
                f"{_where(path, number)}: not a JSON object ({getattr(exc, 'msg', exc)}); RLlib's output "
                "files hold one sample batch per line."
            ) from None
        kind = batch.get("type") if isinstance(batch, dict) else None
        if kind == "MultiAgentBatch":
            policies = batch.get("policy_batches")
            if (
                not isinstance(policies, dict)
                or len(policies) != 1
                or not isinstance(next(iter(policies.values())), dict)
            ):
                names = ", ".join(map(str, policies)) if isinstance(policies, dict) else "none"
                raise UserError(
                    f"{_where(path, number)}: a MultiAgentBatch with policies {names}: an offline "
                    "algorithm trains one policy, from batches of exactly one."
                )
            batch = next(iter(policies.values()))
        elif kind != "SampleBatch":
            raise UserError(
                f"{_where(path, number)}: expected an RLlib sample batch, a JSON object with "
                f'"type": "SampleBatch"; got {_shortened(kind if isinstance(batch, dict) else batch)}.'
            )
        yield number, batch


def _read_batch(batch: dict[str, Any], path: Path, line: int) -> dict[str, np.ndarray]:
    """One batch's columns, checked: every column one entry per step."""
    done_column = next((c for c in DONE_COLUMNS if c in batch), None)
    missing = [c for c in REQUIRED if c not in batch] + ([] if done_column else ["dones"])
    if missing:
        raise UserError(
            f"{_where(path, line)}: the sample batch has no column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, sorted(batch)))}."
        )
    rewards = _finite(_array(batch["rewards"], path, line, "rewards", "iuf", "numbers"), path, line, "rewards")
    columns = {"rewards": rewards}
    steps = len(rewards)
    read = [
        ("obs", "biuf", "numbers (observations)"),
        ("actions", "iuf", "actions"),
        ("eps_id", "iu", "integer episode ids"),
        (done_column, "bi", "true/false"),
        ("truncateds", "bi", "true/false"),
        ("t", "iu", "integer steps"),
        ("action_prob", "iuf", "probabilities"),
        ("action_logp", "iuf", "log-probabilities"),
        ("action_dist_inputs", "iuf", "numbers"),
    ]
    for column, kinds, what in read:
        if column not in batch:
            continue
        array = _array(batch[column], path, line, column, kinds, what)
        if len(array) != steps:
            raise UserError(
                f"{_where(path, line, column)}: {len(array)} entries, but 'rewards' has {steps} (one per step)."
            )
        columns["dones" if column == done_column else column] = array
    if not steps:  # an empty batch: nothing to read (its columns are empty too)
        return columns
    columns["obs"] = _finite(columns["obs"].reshape(steps, -1), path, line, "obs")
    if columns["actions"].dtype.kind == "f":
        columns["actions"] = _finite(columns["actions"].reshape(steps, -1), path, line, "actions")
    elif columns["actions"].ndim != 1:
        raise UserError(
            f"{_where(path, line, 'actions')}: integer actions must be one per step (discrete); "
            f"got shape {columns['actions'].shape}."
        )
    elif steps and (columns["actions"].min() < 0 or columns["actions"].max() >= MAX_DISCRETE_ACTIONS):
        raise UserError(
            f"{_where(path, line, 'actions')}: a discrete action must be from 0 to {MAX_DISCRETE_ACTIONS - 1}."
        )
    for column in ("rewards", "eps_id", "dones", "truncateds", "t", "action_prob", "action_logp"):
        if column in columns and columns[column].ndim != 1:
            raise UserError(
                f"{_where(path, line, column)}: expected one value per step; got shape {columns[column].shape}."
            )
    probability = columns.get("action_prob")
    if probability is None and "action_logp" in columns:
        probability = np.exp(_finite(columns["action_logp"], path, line, "action_logp"))
    if probability is not None:
        probability = _finite(probability, path, line, "action_prob")
        bad = np.flatnonzero((probability <= 0) | (probability > 1 + 1e-6))
        if len(bad):
            raise UserError(
                f"{_where(path, line, 'action_prob')}: step {int(bad[0])} has probability "
                f"{probability[bad[0]]:g}; a behaviour policy's probability of its action is in (0, 1]."
            )
        columns["action_prob"] = np.minimum(probability, 1.0)
    return columns


def _merged(batches: list[tuple[Path, int, dict[str, np.ndarray]]]) -> dict[str, Any]:
    """The batches' rows in one set of arrays, checked to agree with the first batch."""
    first_path, first_line, first = batches[0]
    discrete = first["actions"].dtype.kind in "iu"
    has_probs = discrete and "action_prob" in first
    use = {c for c in ("t", "truncateds") if all(c in cols for _, _, cols in batches)}
    for path, line, cols in batches[1:]:
        where, origin = _where(path, line), _where(first_path, first_line)
        if (cols["actions"].dtype.kind in "iu") != discrete:
            raise UserError(
                f"{where}: its actions are {'continuous' if discrete else 'discrete'} but those of "
                f"{origin} are not (integer actions are discrete, numbers with a fraction continuous)."
            )
        if cols["obs"].shape[1] != first["obs"].shape[1]:
            raise UserError(
                f"{where}: observations of {cols['obs'].shape[1]} numbers, but {origin} has {first['obs'].shape[1]}."
            )
        if not discrete and cols["actions"].shape[1] != first["actions"].shape[1]:
            raise UserError(
                f"{where}: actions of {cols['actions'].shape[1]} numbers, but {origin} has {first['actions'].shape[1]}."
            )
        if discrete and ("action_prob" in cols) != has_probs:
            raise UserError(
                f"{where} and {origin}: only one of them has the behaviour probabilities "
                "('action_prob' or 'action_logp')."
            )

    def joined(column: str) -> np.ndarray:
        return np.concatenate([cols[column] for _, _, cols in batches])

    widths = [
        cols["action_dist_inputs"].shape[1]
        for _, _, cols in batches
        if discrete and cols.get("action_dist_inputs") is not None and cols["action_dist_inputs"].ndim == 2
    ]
    merged: dict[str, Any] = {c: joined(c) for c in ("obs", "actions", "rewards", "dones", *sorted(use))}
    merged["eps_id"] = [e for _, _, cols in batches for e in cols["eps_id"].tolist()]
    merged["action_prob"] = joined("action_prob") if has_probs else None
    merged["discrete"] = discrete
    merged["width"] = max([int(merged["actions"].max()) + 1, *widths]) if discrete else merged["actions"].shape[1]
    merged["origin"] = [(path, line) for path, line, cols in batches for _ in range(len(cols["rewards"]))]
    return merged


def load_rllib_json(paths: list[Path]) -> dict[str, Any]:
    """The episodes of RLlib sample-batch files, in the form :func:`runtime.offline.dataset.load_logged_data` merges:
    rows grouped by ``eps_id`` over all the files (episodes in order of their first row; within one, by ``t`` when
    every batch has it, else as written), ``ended`` false for an episode whose last row is not done (recording stopped
    mid-episode, or RLlib 2.x's ``truncateds``): never terminal."""
    batches = []
    for path in paths:
        for line, raw in _batches(path):
            columns = _read_batch(raw, path, line)
            if len(columns["rewards"]):
                batches.append((path, line, columns))
    if not batches:
        raise UserError(f"{', '.join(map(str, paths))}: the sample batches hold no steps.")
    merged = _merged(batches)
    ranks: dict[Any, int] = {}
    episode_of_row = np.fromiter(
        (ranks.setdefault(e, len(ranks)) for e in merged["eps_id"]), dtype=np.int64, count=len(merged["eps_id"])
    )
    steps = merged["t"] if "t" in merged else np.arange(len(episode_of_row))
    order = np.lexsort((steps, episode_of_row))
    lengths = np.bincount(episode_of_row, minlength=len(ranks))
    last = np.cumsum(lengths) - 1
    sorted_steps, sorted_episodes = steps[order], episode_of_row[order]
    repeated = np.flatnonzero((sorted_steps[1:] == sorted_steps[:-1]) & (sorted_episodes[1:] == sorted_episodes[:-1]))
    origin: list[tuple[Path, int]] = merged["origin"]
    if len(repeated):
        a, b = (origin[int(order[i])] for i in (repeated[0], repeated[0] + 1))
        raise UserError(
            f"{_where(*b, 't')}: step {int(sorted_steps[repeated[0] + 1])} of episode "
            f"{merged['eps_id'][order[repeated[0]]]} is logged twice (also in {_where(*a)})."
        )
    dones = merged["dones"][order].astype(bool)
    early = np.flatnonzero(dones & ~np.isin(np.arange(len(order)), last))
    if len(early):
        raise UserError(
            f"{_where(*origin[int(order[early[0]])], 'dones')}: episode "
            f"{merged['eps_id'][order[early[0]]]} is done at this step, but has later steps."
        )
    ended = dones[last] & ~(merged["truncateds"][order][last].astype(bool) if "truncateds" in merged else False)
    probs = None
    if merged["action_prob"] is not None:
        probs = np.full((len(order), merged["width"]), np.nan)
        probs[np.arange(len(order)), merged["actions"]] = merged["action_prob"]
        probs = probs[order]
    return {
        "states": merged["obs"][order],
        "actions": merged["actions"][order].astype(np.int64) if merged["discrete"] else merged["actions"][order],
        "rewards": merged["rewards"][order],
        "probs": probs,
        "lengths": lengths.astype(np.int64),
        "discrete": merged["discrete"],
        "n_actions": int(merged["width"]),
        "path": paths[0],
        "files": tuple(paths),
        "has_probs": probs is not None,
        "ended": np.asarray(ended, dtype=bool),
    }
