"""A translated Coach job (:class:`sagemaker_rl.coach_translate.CoachJob`) run as SageMaker RL's Coach launcher ran
its preset: trained by rlrt's one training job as an rlrt preset, the source of a ``level="module:Class"`` kept with
the model, the exported policy played for the preset's evaluation episodes (Coach's ``Testing>`` lines), then
Coach's ``simple_rl_graph`` CSV."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import yaml

from runtime.errors import run_job
from runtime.evaluate.evaluator import evaluate_policy
from runtime.evaluate.loaders import load_actor, locate
from runtime.names import INTERMEDIATE_DIR, METADATA_JSON, MODEL_DIR
from runtime.plugins import INSTALLED
from runtime.train.job import run_training_job
from sagemaker_rl import coach_batch
from sagemaker_rl.coach_csv import report_coach_csv
from sagemaker_rl.coach_translate import CoachJob
from sagemaker_rl.ray_launcher import job_root
from sagemaker_rl.user_envs import keep_script_source


def train_coach_job(job: CoachJob, name: str, rlrt_hyperparameters: Mapping[str, Any], source_dir: Path) -> int:
    """Train the translated preset ``name`` as an rlrt preset, with the script's own top-level hyperparameters
    (``rlrt_hyperparameters``); then keep the source of a level from ``source_dir`` with the model, play the
    exported policy (Coach's evaluation phase) and write Coach's CSV. Returns the exit code."""
    overrides = {**rlrt_hyperparameters, **job.hyperparameters}
    folder = Path(tempfile.mkdtemp(prefix="rlrt-coach-"))
    try:
        preset = folder / f"{name}.yaml"
        # Batch RL's Coach models were TensorFlow's, not served by deploy-mxnet-coach.py: rlrt's answer
        preset.write_text(yaml.safe_dump(job.preset_document(name, job.algorithm != coach_batch.ALGORITHM)))
        # The job's hyperparameters were the graph manager's; rlrt reads only what the translation made of them.
        code = run_training_job(
            overrides=overrides, default_preset=str(preset), plugins=INSTALLED, owned=lambda key: key in overrides
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if code == 0 and job.user_env:  # rlrt evaluate registers the level again from this copy
        registered = job.env.partition("/")[2]
        module, _, attribute = registered.rpartition(".")
        keep_script_source(
            job_root() / MODEL_DIR, source_dir / f"{module.replace('.', '/')}.py", registered, f"{module}:{attribute}"
        )
    if code == 0 and (job.evaluation_episodes or job.evaluation_steps):
        code = run_job(lambda: _evaluate(job))
    if job.algorithm != coach_batch.ALGORITHM:  # Batch RL writes its own graph's CSV (off-policy estimates)
        report_coach_csv(job_root() / INTERMEDIATE_DIR)  # also of a job that failed: what it trained
    return code


def _evaluate(job: CoachJob) -> None:
    """Coach's evaluation phase: the exported policy played for the preset's evaluation episodes (``Testing>``)."""
    root = job_root()
    if not (root / MODEL_DIR / METADATA_JSON).is_file():
        return  # a host that wrote no model
    model_dir, metadata = locate(root / MODEL_DIR, INSTALLED)
    iteration = int((metadata.get("training") or {}).get("training_iteration", 0))
    evaluate_policy(
        load_actor(model_dir, metadata, INSTALLED),
        str(metadata.get("env") or job.env),
        job.evaluation_episodes or None,
        iteration,
        root / INTERMEDIATE_DIR,
        videos=job.videos,
        steps=job.evaluation_steps or None,
        gifs=job.gifs,
    )
