"""``rlrt plot TREE...``: several runs' training curves on one figure, as RL Zoo's ``scripts/plot_train.py`` and
``scripts/all_plots.py`` draw them.

Each job tree's ``output/intermediate/progress.csv`` gives its curve: ``episode_reward_mean`` (the mean return of the
last 100 episodes) against environment steps (``timesteps_total``) or training time (``time_total_s``). Its resolved
configuration (``output/intermediate/config.json``, else ``model/config.json``: preset, environment, algorithm,
backend, settings) says which runs are one configuration: runs that differ only in their seed are drawn as one line,
the mean over the seeds, with a band from the lowest to the highest of them (min - max, as the legend says); other
configurations are lines of their own. Each seed's curve is read at every x any of them reports (linear
interpolation), over the range all of them reached. ``--csv`` writes that table: per configuration and x, the number
of runs and the mean, min, max and standard deviation. The figure is :mod:`runtime.train.curve`'s, the one each job
draws into ``learning_curve.png``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from runtime.errors import UserError
from runtime.names import CONFIG_JSON, INTERMEDIATE_DIR, MODEL_DIR
from runtime.train.curve import RETURN, Curve, Panel, Series, learning_curve_figure, read_progress, save_figure

PROGRESS_CSV = "progress.csv"
AXES = {"steps": ("timesteps_total", "environment steps"), "time": ("time_total_s", "training time (s)")}
"""``--x``: the progress.csv column and the axis label."""
CONFIGURATION_KEYS = ("preset", "env", "algorithm", "backend", "config", "env_config")
"""What makes two runs one configuration (their seeds, stop budgets and video settings aside)."""
DEFAULT_OUTPUT = Path("training_curves.png")


@dataclass(frozen=True)
class Run:
    """One job tree's curve: its points and what it trained."""

    tree: Path
    x: tuple[float, ...]
    y: tuple[float, ...]
    configuration: str
    """The resolved configuration without the seed, as canonical JSON: equal for seeds of one configuration."""
    label: str
    seed: Any


@dataclass(frozen=True)
class Aggregate:
    """One configuration's runs read at common x: the rows of ``--csv`` and a line (with its band) of the figure."""

    label: str
    runs: tuple[Run, ...]
    x: tuple[float, ...]
    count: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    std: tuple[float, ...]


def read_run(tree: Path, x_key: str) -> Run:
    """The curve and configuration of the job tree ``tree``; a :class:`UserError` naming the path when it is not one
    (with what to give instead)."""
    progress = tree / INTERMEDIATE_DIR / PROGRESS_CSV
    if not progress.is_file():
        inner = (
            sorted(p.name for p in tree.iterdir() if (p / INTERMEDIATE_DIR / PROGRESS_CSV).is_file())
            if tree.is_dir()
            else []
        )
        what = "no such folder" if not tree.exists() else f"no {INTERMEDIATE_DIR / PROGRESS_CSV} in it"
        hint = (
            f"it holds job trees ({', '.join(inner[:3])}{', ...' if len(inner) > 3 else ''}): give them, e.g. "
            f"rlrt plot {tree}/*"
            if inner
            else "give the folders `rlrt train` made, e.g. rlrt plot "
            "rlrt-jobs/cartpole-ppo-s1-* rlrt-jobs/cartpole-ppo-s2-*"
        )
        raise UserError(f"{tree} is not a job tree ({what}): {hint}.")
    try:
        rows = read_progress(progress)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"Cannot read {progress}: {exc}") from exc
    points = [(r.get(x_key, math.nan), r.get(RETURN, math.nan)) for r in rows]
    kept = sorted((x, y) for x, y in points if math.isfinite(x) and math.isfinite(y))
    resolved = _configuration(tree)
    plain: dict[str, Any] = {key: resolved.get(key) for key in CONFIGURATION_KEYS} if resolved else {"tree": str(tree)}
    if isinstance(plain.get("config"), dict):
        plain["config"] = {k: v for k, v in plain["config"].items() if k != "seed"}
    env, algorithm = resolved.get("env") or "", resolved.get("algorithm") or ""
    label = " ".join(str(p) for p in (resolved.get("preset") or tree.name, f"({env}, {algorithm})" if env else "") if p)
    return Run(
        tree,
        tuple(x for x, _ in kept),
        tuple(y for _, y in kept),
        json.dumps(plain, sort_keys=True, default=str),
        label,
        resolved.get("seed"),
    )


def _configuration(tree: Path) -> dict[str, Any]:
    """The tree's resolved configuration (written at the job's start, and with its model); {} when it has none."""
    for path in (tree / INTERMEDIATE_DIR / CONFIG_JSON, tree / MODEL_DIR / CONFIG_JSON):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def aggregate(runs: Sequence[Run]) -> list[Aggregate]:
    """The runs grouped by configuration (in the order given), each group read at every x any of its runs reports
    within the range all of them reached (where they share none, every x, over the runs that reached it)."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.configuration, []).append(run)
    labels = _distinct_labels(list(groups.values()))
    result = []
    for (_key, members), label in zip(groups.items(), labels):
        xs = sorted({x for run in members for x in run.x})
        common = [x for x in xs if all(run.x[0] <= x <= run.x[-1] for run in members)]
        grid = common or xs
        values = [[float(np.interp(x, run.x, run.y)) for run in members if run.x[0] <= x <= run.x[-1]] for x in grid]
        result.append(
            Aggregate(
                label,
                tuple(members),
                tuple(grid),
                tuple(len(v) for v in values),
                tuple(float(np.mean(v)) for v in values),
                tuple(min(v) for v in values),
                tuple(max(v) for v in values),
                tuple(float(np.std(v)) for v in values),
            )
        )
    return result


def _distinct_labels(groups: Sequence[Sequence[Run]]) -> list[str]:
    """Each configuration's label; configurations of one preset, environment and algorithm are told apart by the
    settings in which they differ (``lr=0.001``)."""
    labels = []
    for members in groups:
        base = members[0].label
        others = [g[0] for g in groups if g[0].label == base and g is not members]
        if not others:
            labels.append(base)
            continue
        mine = _flat(json.loads(members[0].configuration))
        differing = sorted(
            key for key in mine if any(_flat(json.loads(o.configuration)).get(key) != mine[key] for o in others)
        )
        labels.append(base + " " + ", ".join(f"{k}={json.dumps(mine[k])}" for k in differing[:3]))
    return labels


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = key if prefix in ("", "config") else f"{prefix}.{key}"
        flat.update(_flat(value, name) if isinstance(value, dict) else {name: value})
    return flat


def _series(group: Aggregate) -> Series:
    """The figure's line of one configuration: its mean and the min - max band over several seeds; one run's own."""
    if len(group.runs) == 1:
        run = group.runs[0]
        seed = f", seed {run.seed}" if run.seed is not None else ""
        return Series(f"{group.label}{seed} ({run.tree.name})", group.x, group.mean)
    seeds = len(group.runs)
    return Series(
        f"{group.label}: mean of {seeds} seeds",
        group.x,
        group.mean,
        (group.low, group.high),
        f"min - max of the {seeds} seeds",
    )


def write_table(groups: Sequence[Aggregate], x_key: str, path: Path) -> None:
    """``--csv``: one row per configuration and x."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["configuration", x_key, "runs", f"{RETURN}_mean", f"{RETURN}_min", f"{RETURN}_max", f"{RETURN}_std"]
        )
        for group in groups:
            for row in zip(group.x, group.count, group.mean, group.low, group.high, group.std):
                writer.writerow([group.label, *(f"{value:.6g}" for value in row)])


def plot_runs(trees: Sequence[Path], output: Path, x: str = "steps", table: Path | None = None) -> int:
    """``rlrt plot``: draw the trees' curves into ``output`` (and the table into ``table``); returns the exit code."""
    x_key, xlabel = AXES[x]
    runs = []
    for tree in trees:
        run = read_run(tree, x_key)
        if run.x:
            runs.append(run)
        else:
            print(
                f"rlrt: {tree}: no {RETURN} against {x_key} in its progress.csv yet (no episode ended): not drawn",
                flush=True,
            )
    if not runs:
        raise UserError(
            "None of the job trees has a finished episode to draw yet: plot them once their jobs have "
            "trained an iteration."
        )
    groups = aggregate(runs)
    envs = sorted({json.loads(run.configuration).get("env") or "" for run in runs} - {""})
    title = f"{', '.join(envs) or 'episode return'}: {len(runs)} run{'s' * (len(runs) > 1)}"
    curve = Curve(xlabel, (Panel("mean episode return (last 100 episodes)", tuple(_series(g) for g in groups)),))
    for path in (output, table):
        if path is not None and not path.parent.is_dir():
            raise UserError(f"Cannot write {path}: the folder {path.parent} does not exist.")
    save_figure(learning_curve_figure(curve, title), output, title)
    print(f"rlrt: {len(runs)} run(s) in {len(groups)} configuration(s) drawn to {output}", flush=True)
    if table is not None:
        write_table(groups, x_key, table)
        print(f"rlrt: the table drawn written to {table}", flush=True)
    return 0
