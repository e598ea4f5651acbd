"""Opt-in experiment tracking with MLflow (``rlrt train --track mlflow``, the hyperparameter ``track: mlflow``),
beside TensorBoard, through MLflow's own client (``MlflowClient``): one MLflow run per job, with

- the job's settings as parameters (preset, algorithm, environment, seed, every resolved ``config.*`` and
  ``stop.*``), and the tree as a tag;
- every iteration's metrics (the columns of ``progress.csv``), at the step TensorBoard uses (``timesteps_total``);
- at the end, the model folder as the run's ``model`` artifact and the run's status (FINISHED, FAILED, KILLED).

Where: ``MLFLOW_TRACKING_URI`` when set (an MLflow server, a database), MLflow's own setting; otherwise a SQLite store
with its artifacts beside it, no server: next to a local job's tree (``rlrt-jobs/mlflow.db``: runs started there
are compared in one ``mlflow ui``), in a container's ``output/intermediate/mlflow/`` (uploaded with the job's output).
MLflow 3 refuses its old file store (``./mlruns``) unless told otherwise, hence SQLite.

A store that cannot be opened fails the job before training; a write that fails later stops the tracking with one
line and the job goes on (the metrics are in progress.csv and TensorBoard too).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping, TextIO

from runtime.errors import UserError

MLFLOW = "mlflow"
EXPERIMENT = "rlrt"
"""The MLflow experiment rlrt's runs go to (a preset would split runs that users compare across presets)."""
MAX_PARAM = 6000
"""MLflow's longest parameter value (its ``MAX_PARAM_VAL_LENGTH``); longer settings are cut with a mark."""


def default_store(base_dir: Path, container: bool) -> Path:
    """The SQLite file of a job whose environment names no ``MLFLOW_TRACKING_URI``."""
    return base_dir / "output" / "intermediate" / "mlflow" / "mlflow.db" if container else base_dir.parent / \
        "mlflow.db"


def settings_as_params(preset: str, algorithm: str, env: str | None, seed: int | None, config: Mapping[str, Any],
                       stop: Mapping[str, Any]) -> dict[str, str]:
    """The job's settings as MLflow parameters (strings; JSON for anything but a string)."""
    def text(value: Any) -> str:
        written = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        return written if len(written) <= MAX_PARAM else written[: MAX_PARAM - 3] + "..."

    params = {"preset": preset, "algorithm": algorithm, "env": env or "", "seed": "" if seed is None else str(seed)}
    params.update({f"config.{key}": text(value) for key, value in config.items()})
    params.update({f"stop.{key}": text(value) for key, value in stop.items()})
    return {key[:250]: value for key, value in params.items()}


class MLflowTracker:
    """One MLflow run: :meth:`log` an iteration's metrics, :meth:`end` with the model folder and the run's status."""

    def __init__(self, run_name: str, params: Mapping[str, str], tags: Mapping[str, str], store: Path,
                 out: TextIO) -> None:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store}"
        self.out = out
        try:
            from mlflow import MlflowClient  # heavy: MLflow (~3.5 s; opt-in)
            from mlflow.entities import Param  # heavy: MLflow

            # MLflow's INFO lines as it creates a store ("Creating initial MLflow database tables...") say nothing a
            # user acts on; its warnings stay.
            logging.getLogger("mlflow").setLevel(logging.WARNING)
            if uri.startswith("sqlite:///"):
                store.parent.mkdir(parents=True, exist_ok=True)
            self.client = MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(EXPERIMENT)
            experiment_id = experiment.experiment_id if experiment is not None else self.client.create_experiment(
                EXPERIMENT, artifact_location=(store.parent / "mlartifacts").as_uri() if uri.startswith("sqlite:///")
                else None)
            self.run_id: str | None = self.client.create_run(experiment_id, run_name=run_name,
                                                             tags=dict(tags)).info.run_id
            items = [Param(key, value) for key, value in params.items()]
            for start in range(0, len(items), 100):  # MLflow takes at most 100 parameters a call
                self.client.log_batch(self.run_id, params=items[start:start + 100])
        except Exception as exc:  # MLflow's own errors name the store and the problem: said, not swallowed
            raise UserError(f"Cannot track this job with MLflow at {uri}: {type(exc).__name__}: {exc}. Fix or unset "
                            "MLFLOW_TRACKING_URI, or train without --track (the hyperparameter track).") from exc
        self.uri = uri
        print(f"rlrt: tracking with MLflow: run {run_name!r} ({self.run_id}) in {uri}; see it with: mlflow ui "
              f"--backend-store-uri {uri}", file=out, flush=True)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """One iteration's finite metrics at ``step``."""
        from mlflow.entities import Metric  # heavy: MLflow (imported already)

        now = int(time.time() * 1000)
        self._call("log the iteration's metrics", lambda run: self.client.log_batch(run, metrics=[
            Metric(key, float(value), now, step) for key, value in metrics.items()]))

    def end(self, model_dir: Path | None, status: str) -> None:
        """Log ``model_dir`` (None: no complete model) as the run's ``model`` artifact and end the run."""
        if model_dir is not None:
            self._call("log the model folder", lambda run: self.client.log_artifacts(run, str(model_dir), "model"))
        self._call("end the run", lambda run: self.client.set_terminated(run, status))
        self.run_id = None

    def _call(self, what: str, call: Any) -> None:
        if self.run_id is None:
            return
        try:
            call(self.run_id)
        except Exception as exc:  # noqa: BLE001 - tracking is opt-in: the job goes on, said once
            print(f"rlrt: warning: MLflow could not {what} ({type(exc).__name__}: {exc}); tracking stops here "
                  "(progress.csv and TensorBoard have every number)", file=self.out, flush=True)
            self.run_id = None
