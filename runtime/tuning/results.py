"""The outcome of ``rlrt tune``: the results table (stdout and ``tuning_results.csv``) and the best trial."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from runtime.errors import UserError
from runtime.names import MANIFEST_FILE, METADATA_JSON, MODEL_DIR
from runtime.tuning.spec import TuningSpec

RESULTS_CSV = "tuning_results.csv"
BEST_JSON = "best_hyperparameters.json"


@dataclass
class TuningOutcome:
    """What a tuning run produced."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    results_csv: Path | None = None
    best_json: Path | None = None
    interrupted: bool = False
    """Ctrl-C (or SIGTERM, SIGHUP) stopped the search before every trial finished."""
    stopped_by: str = "SIGINT"
    """Which signal stopped it, when ``interrupted``."""

    @property
    def how(self) -> str:
        return "Ctrl-C" if self.stopped_by == "SIGINT" else self.stopped_by


COMPLETED = "completed"
EARLY_STOPPED = "early-stopped"
INTERRUPTED = "interrupted"
ERROR = "error"


def trial_status(job_dir: str | Path | None, failed: bool, interrupted: bool, finished: bool) -> str:
    """How a trial ended: ``completed`` only when its training job ran to its own end (``finished``: the trial's
    last result is the job's exit, not the tuner stopping it) and wrote its model (``model/metadata.json`` and the
    manifest written last); a trial the tuner stopped first is ``early-stopped`` (its job saved a checkpoint on
    SIGTERM), or ``interrupted`` after Ctrl-C on ``rlrt tune``."""
    if failed:
        return ERROR
    model = Path(job_dir) / MODEL_DIR if job_dir else None
    if finished and model is not None and (model / MANIFEST_FILE).is_file() and (model / METADATA_JSON).is_file():
        return COMPLETED
    return INTERRUPTED if interrupted else EARLY_STOPPED


def summarise(spec: TuningSpec, grid: Any, output: Path, out: Any, interrupted: bool = False) -> TuningOutcome:
    """The results table (stdout, ``tuning_results.csv``) and ``best_hyperparameters.json``: the best of the trials
    whose job completed and wrote its model (an early-stopped or interrupted trial is never the best: its model, if
    any, is its checkpoint's at the stop). ``interrupted``: Ctrl-C or SIGTERM stopped the search; trials it stopped
    are listed as ``interrupted``."""
    rows = []
    jobs = sorted(p for p in (output / "jobs").iterdir() if p.is_dir()) if (output / "jobs").is_dir() else []
    for result in grid:
        metrics = result.metrics or {}
        config = result.config or {}
        tuned = {r.name: r.value_from_sample(config[f"p{i}"]) for i, r in enumerate(spec.ranges) if f"p{i}" in config}
        value = metrics.get(spec.objective_metric_name)
        # A trial stopped before its first result has none: its job's tree is the one named by its trial id.
        job_dir = metrics.get("job_dir") or next((str(p) for p in jobs if p.name in Path(str(result.path)).name), "")
        finished = metrics.get("done") is True
        rows.append(
            {
                "trial": metrics.get("trial_id") or (Path(job_dir).name if job_dir else Path(str(result.path)).name),
                **tuned,
                spec.objective_metric_name: value,
                "iterations": metrics.get("job_iteration"),
                "status": trial_status(job_dir, bool(result.error), interrupted, finished),
                "job_dir": job_dir,
                "_hyperparameters": metrics.get("hyperparameters"),
            }
        )
    finite = [
        r
        for r in rows
        if r["status"] == COMPLETED
        and isinstance(r[spec.objective_metric_name], (int, float))
        and math.isfinite(r[spec.objective_metric_name])
    ]
    pick = max if spec.mode == "max" else min
    best_row = pick(finite, key=lambda r: r[spec.objective_metric_name]) if finite else None
    output.mkdir(parents=True, exist_ok=True)
    columns = ["trial", *[r.name for r in spec.ranges], spec.objective_metric_name, "iterations", "status", "job_dir"]
    results_csv = output / RESULTS_CSV
    with results_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    _print_table(rows, columns, spec, out)
    outcome = TuningOutcome(rows=rows, results_csv=results_csv)
    if best_row is not None:
        best = {
            "objective_metric_name": spec.objective_metric_name,
            "objective_type": spec.objective_type,
            "objective_value": best_row[spec.objective_metric_name],
            "trial": best_row["trial"],
            "job_dir": best_row["job_dir"],
            "tuned_hyperparameters": {r.name: best_row[r.name] for r in spec.ranges if r.name in best_row},
            "hyperparameters": json.loads(best_row["_hyperparameters"]) if best_row["_hyperparameters"] else {},
        }
        outcome.best_json = output / BEST_JSON
        outcome.best_json.write_text(json.dumps(best, indent=2, sort_keys=True) + "\n")
        outcome.best = best
        print(
            f"rlrt: best trial {best['trial']}: {spec.objective_metric_name} = {best['objective_value']:g}; "
            f"hyperparameters in {outcome.best_json}",
            file=out,
            flush=True,
        )
    else:
        (output / BEST_JSON).unlink(missing_ok=True)
        print(f"rlrt: no trial completed with a finite {spec.objective_metric_name}", file=out, flush=True)
    print(f"rlrt: results table in {results_csv}", file=out, flush=True)
    if best_row is None and not interrupted:
        raise UserError(
            f"No trial of the tuning job completed with {spec.objective_metric_name}; see the job logs "
            f"under {output / 'jobs'}"
        )
    return outcome


def _print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], spec: TuningSpec, out: Any) -> None:
    shown = [c for c in columns if c != "job_dir"]

    def cell(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else ("" if value is None else str(value))

    table = [[cell(r.get(c)) for c in shown] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c) for i, c in enumerate(shown)]
    print("  ".join(c.ljust(w) for c, w in zip(shown, widths)).rstrip(), file=out)
    for t in sorted(table, key=lambda t: t[0]):
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip(), file=out)
    out.flush()
