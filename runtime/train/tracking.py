"""Opt-in experiment tracking beside TensorBoard (``rlrt train --track mlflow|wandb``, the hyperparameter ``track``),
each through the tracker's own library: one run per job, with

- the job's settings as parameters (preset, algorithm, environment, seed, every resolved ``config.*`` and
  ``stop.*``), and the tree as a tag;
- every iteration's metrics (the columns of ``progress.csv``), at the step TensorBoard uses (``timesteps_total``);
- at the end, the model folder as the run's ``model`` artifact and the run's status (FINISHED, FAILED, KILLED).

Where: ``MLFLOW_TRACKING_URI`` when set (an MLflow server, a database), MLflow's own setting; otherwise a SQLite store
with its artifacts beside it, no server: next to a local job's tree (``rlrt-jobs/mlflow.db``: runs started there
are compared in one ``mlflow ui``), in a container's ``output/intermediate/mlflow/`` (uploaded with the job's output).
MLflow 3 refuses its old file store (``./mlruns``) unless told otherwise, hence SQLite.

W&B (``wandb``): offline unless W&B's own ``WANDB_MODE`` says otherwise (``online`` after ``wandb login``), so a job
needs no account and no network; the run's files go to ``WANDB_DIR`` when set, otherwise beside a local job's tree
(``rlrt-jobs/wandb/``) or into a container's ``output/intermediate/wandb/``; ``wandb sync`` uploads them later.
``WANDB_PROJECT`` (default ``rlrt``) and ``WANDB_ENTITY`` are W&B's own settings. W&B's console capture and its own
lines are off (rlrt's output is its own; rlrt says where the run is), its system metrics stay on.

A store that cannot be opened fails the job before training; a write that fails later stops the tracking with one
line and the job goes on (the metrics are in progress.csv and TensorBoard too).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Protocol, TextIO, get_args

from runtime.errors import UserError

MLFLOW = "mlflow"
WANDB = "wandb"
EXPERIMENT = "rlrt"
"""The MLflow experiment rlrt's runs go to (a preset would split runs that users compare across presets)."""
MAX_PARAM = 6000
"""MLflow's longest parameter value (its ``MAX_PARAM_VAL_LENGTH``); longer settings are cut with a mark."""


WandbMode = Literal["offline", "online", "disabled", "shared"]
WANDB_MODES: tuple[WandbMode, ...] = get_args(WandbMode)
"""The values of W&B's ``WANDB_MODE`` that ``wandb.init`` takes."""
STATUS_EXIT = {"FINISHED": 0, "FAILED": 1, "KILLED": 130}
"""A run's end as W&B records it (an exit code: 0 finished, else failed; 130 as for Ctrl-C)."""


class Tracker(Protocol):
    """One tracked run, written by the job's reporter (:class:`runtime.train.reporting.Reporter`)."""

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """One iteration's finite metrics at ``step``."""

    def end(self, model_dir: Path | None, status: str) -> None:
        """Log ``model_dir`` (None: no complete model) as the run's ``model`` artifact and end the run with
        ``status`` (FINISHED, FAILED or KILLED)."""


def default_store(base_dir: Path, container: bool) -> Path:
    """The SQLite file of a job whose environment names no ``MLFLOW_TRACKING_URI``."""
    return base_dir / "output" / "intermediate" / "mlflow" / "mlflow.db" if container else base_dir.parent / "mlflow.db"


def default_wandb_dir(base_dir: Path, container: bool) -> Path:
    """Where W&B writes a run's files when ``WANDB_DIR`` is not set (W&B adds its own ``wandb/`` folder)."""
    return base_dir / "output" / "intermediate" if container else base_dir.parent


def attempt(tracker: str, what: str, call: Callable[[], object], out: TextIO) -> bool:
    """One write to a tracker; False when it failed, said in one line: tracking is opt-in, so the job goes on."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - whatever the tracker's library raises, the job goes on
        print(
            f"rlrt: warning: {tracker} could not {what} ({type(exc).__name__}: {exc}); tracking stops here "
            "(progress.csv and TensorBoard have every number)",
            file=out,
            flush=True,
        )
        return False
    return True


def start(
    kind: str,
    run_name: str,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    base_dir: Path,
    container: bool,
    out: TextIO,
) -> Tracker:
    """The job's run with the tracker ``kind`` (one of :data:`runtime.config.workflow.TRACKERS`)."""
    if kind == WANDB:
        return WandbTracker(run_name, params, tags, default_wandb_dir(base_dir, container), out)
    return MLflowTracker(run_name, params, tags, default_store(base_dir, container), out)


def settings_as_params(
    preset: str, algorithm: str, env: str | None, seed: int | None, config: Mapping[str, Any], stop: Mapping[str, Any]
) -> dict[str, str]:
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

    def __init__(
        self, run_name: str, params: Mapping[str, str], tags: Mapping[str, str], store: Path, out: TextIO
    ) -> None:
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
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else self.client.create_experiment(
                    EXPERIMENT,
                    artifact_location=(store.parent / "mlartifacts").as_uri() if uri.startswith("sqlite:///") else None,
                )
            )
            self.run_id: str | None = self.client.create_run(
                experiment_id, run_name=run_name, tags=dict(tags)
            ).info.run_id
            items = [Param(key, value) for key, value in params.items()]
            for start in range(0, len(items), 100):  # MLflow takes at most 100 parameters a call
                self.client.log_batch(self.run_id, params=items[start : start + 100])
        except Exception as exc:  # MLflow's own errors name the store and the problem: said, not swallowed
            raise UserError(
                f"Cannot track this job with MLflow at {uri}: {type(exc).__name__}: {exc}. Fix or unset "
                "MLFLOW_TRACKING_URI, or train without --track (the hyperparameter track)."
            ) from exc
        self.uri = uri
        print(
            f"rlrt: tracking with MLflow: run {run_name!r} ({self.run_id}) in {uri}; see it with: mlflow ui "
            f"--backend-store-uri {uri}",
            file=out,
            flush=True,
        )

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """One iteration's finite metrics at ``step``."""
        from mlflow.entities import Metric  # heavy: MLflow (imported already)

        now = int(time.time() * 1000)
        self._call(
            "log the iteration's metrics",
            lambda run: self.client.log_batch(
                run, metrics=[Metric(key, float(value), now, step) for key, value in metrics.items()]
            ),
        )

    def end(self, model_dir: Path | None, status: str) -> None:
        """Log ``model_dir`` (None: no complete model) as the run's ``model`` artifact and end the run."""
        if model_dir is not None:
            self._call("log the model folder", lambda run: self.client.log_artifacts(run, str(model_dir), "model"))
        self._call("end the run", lambda run: self.client.set_terminated(run, status))
        self.run_id = None

    def _call(self, what: str, call: Callable[[str], object]) -> None:
        run = self.run_id
        if run is not None and not attempt("MLflow", what, lambda: call(run), self.out):
            self.run_id = None


class WandbTracker:
    """One W&B run (offline unless ``WANDB_MODE`` says otherwise): :meth:`log` and :meth:`end` as for MLflow."""

    def __init__(
        self, run_name: str, params: Mapping[str, str], tags: Mapping[str, str], folder: Path, out: TextIO
    ) -> None:
        self.out = out
        where = Path(os.environ.get("WANDB_DIR") or folder)
        mode = os.environ.get("WANDB_MODE") or "offline"
        if mode not in WANDB_MODES:
            raise UserError(
                f"WANDB_MODE={mode} is not a W&B mode: set it to one of {', '.join(WANDB_MODES)}, or "
                "unset it (rlrt then tracks offline)."
            )
        try:
            import wandb  # heavy: W&B's client (~2.5 s; opt-in)

            where.mkdir(parents=True, exist_ok=True)
            # A run's own settings leave W&B's process-wide lines on ("Adding directory to artifact..."); these don't.
            wandb.setup(wandb.Settings(silent=True))
            self.run: Any = wandb.init(
                project=os.environ.get("WANDB_PROJECT") or EXPERIMENT,
                name=run_name,
                config=dict(params),
                tags=[f"{key}={value}"[:64] for key, value in tags.items()],
                dir=str(where),
                mode=mode,
                settings=wandb.Settings(console="off", silent=True, disable_git=True, save_code=False),
            )
        except Exception as exc:  # W&B's own errors name the mode, folder or login problem: said, not swallowed
            if "wandb" in sys.modules:
                sys.modules["wandb"].teardown()  # its service process, if it had started one
            said = " ".join(str(exc).split())  # W&B's validation errors span lines
            raise UserError(
                f"Cannot track this job with W&B (mode {mode}, folder {where}): {type(exc).__name__}: "
                f"{said}. Fix or unset WANDB_MODE / WANDB_DIR, or train without --track (the "
                "hyperparameter track)."
            ) from exc
        self.wandb = wandb
        files = Path(self.run.dir).parent
        upload = f"; upload it with: wandb sync {files}" if mode == "offline" else ""
        print(
            f"rlrt: tracking with W&B ({mode}): run {run_name!r} ({self.run.id}) in {files}{upload}",
            file=out,
            flush=True,
        )

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """One iteration's finite metrics at ``step``."""
        self._call("log the iteration's metrics", lambda run: run.log(dict(metrics), step=step))

    def end(self, model_dir: Path | None, status: str) -> None:
        """Log ``model_dir`` (None: no complete model) as the run's ``model`` artifact and end the run."""

        def artifact(run: Any) -> None:
            model = self.wandb.Artifact(f"{run.name or run.id}-model".replace("/", "-"), type="model")
            model.add_dir(str(model_dir))
            run.log_artifact(model, aliases=["latest"])

        if model_dir is not None:
            self._call("log the model folder", artifact)
        self._call("end the run", lambda run: run.finish(exit_code=STATUS_EXIT.get(status, 1)))
        self.run = None
        # W&B's service process outlives its runs; a job that ends takes it with it.
        self.wandb.teardown()

    def _call(self, what: str, call: Callable[[Any], object]) -> None:
        run = self.run
        if run is not None and not attempt("W&B", what, lambda: call(run), self.out):
            self.run = None
