"""One trial of ``rlrt tune``: one ``rlrt train`` job in its own ``/opt/ml`` tree, followed through its metric lines."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import psutil

from runtime.cluster.node import die_with_parent
from runtime.config import hyperparameters as hp
from runtime.job.environment import prepare_local_tree
from runtime.names import BASE_DIR_ENV, NUM_CPUS_ENV, NUM_GPUS_ENV
from runtime.tuning.spec import TuningSpec

METRIC_LINE = re.compile(r"^(episode_reward_mean|training_iteration): ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?|nan)$")
JOB_LOG = "job.log"
JOB_PID = "job.pid"
JOB_STOP_TIMEOUT_S = 90.0


def _start_trial_job(
    config: Mapping[str, Any], spec: TuningSpec, base: Path, repo_root: str, environment: Mapping[str, str]
) -> tuple[subprocess.Popen, dict[str, Any]]:
    """Lay out the trial's ``/opt/ml`` tree with its hyperparameters and start ``rlrt train`` in it, in
    ``environment``: ``rlrt tune``'s own, never the Ray worker's (Ray adds its node's variables to its workers, and a
    job that inherited them looked for the tuner's node in its own Ray)."""
    hyperparameters = dict(spec.static_hyperparameters)
    for i, r in enumerate(spec.ranges):
        hyperparameters[r.name] = r.value_from_sample(config[f"p{i}"])
    prepare_local_tree(base, hyperparameters)
    (base / "input" / "config" / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    env = {
        **environment,
        BASE_DIR_ENV: str(base),
        NUM_CPUS_ENV: str(spec.cpus_per_job),
        NUM_GPUS_ENV: "0",
        "PYTHONPATH": repo_root + os.pathsep + environment.get("PYTHONPATH", ""),
    }
    for name in ("RAY_ADDRESS", "RAY_JOB_ID", "RAY_RAYLET_PID"):
        env.pop(name, None)
    with (base / JOB_LOG).open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "train"],
            cwd=repo_root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
    (base / JOB_PID).write_text(f"{process.pid}\n")
    return process, hyperparameters


def trial_class() -> type:
    """The Ray Tune trainable: one trial = one training job; one Tune step = one training iteration of the job.

    A class (not a function) trainable, because stopping a trial early must wait for the job: ``cleanup`` sends
    it SIGTERM (as SageMaker's tuner stops a job) and waits while it saves a checkpoint and stops its own Ray.
    """
    from ray import tune  # heavy: Ray and RLlib (~4 s)

    class TrainingJobTrial(tune.Trainable):
        # tune.with_parameters passes the last four as keyword arguments (Ray's documented way to give a class
        # trainable more than its config), which Trainable.setup's annotated signature does not show.
        def setup(  # type: ignore[override]
            self, config: dict[str, Any], spec: TuningSpec, jobs_dir: str, repo_root: str, environment: dict[str, str]
        ) -> None:
            self.spec = spec
            self.base = Path(jobs_dir) / self.trial_id
            self.job_iteration = 0
            self.last: dict[str, Any] | None = None
            self.process, self.hyperparameters = _start_trial_job(config, spec, self.base, repo_root, environment)
            # The job's own last iteration: its result is returned once the job has ended, so a scheduler that
            # stops trials at that iteration (ASHA's max_t) never sends SIGTERM to a job still writing its model.
            stop = self.hyperparameters.get(hp.STOP_PREFIX + hp.STOP_TRAINING_ITERATION)
            self.final_iteration = int(stop) if isinstance(stop, (int, float)) else None
            self.lines = _follow(self.base / JOB_LOG, self.process)

        def step(self) -> dict[str, Any]:
            for line in self.lines:
                match = METRIC_LINE.match(line.strip())
                if not match:
                    continue
                if match.group(1) == "training_iteration":
                    self.job_iteration = int(float(match.group(2)))
                    continue
                value = float(match.group(2))
                if math.isfinite(value):
                    self.last = {
                        self.spec.objective_metric_name: value,
                        "job_iteration": self.job_iteration + 1,
                        "hyperparameters": json.dumps(self.hyperparameters, sort_keys=True),
                        "job_dir": str(self.base),
                    }
                    if self.final_iteration is None or self.job_iteration + 1 < self.final_iteration:
                        return dict(self.last)
            code = self.process.wait()
            if code != 0:
                failure = self.base / "output" / "failure"
                reason = failure.read_text().strip() if failure.exists() else f"exit code {code}"
                raise RuntimeError(f"training job {self.base} failed: {reason}")
            if self.last is None:
                raise RuntimeError(f"training job {self.base} printed no {self.spec.objective_metric_name}")
            return {**self.last, "done": True}

        def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
            # The job keeps its own checkpoints in its tree; Tune's checkpoint only points at it.
            return {"job_dir": str(self.base)}

        def load_checkpoint(self, checkpoint: dict[str, Any] | None) -> None:
            # setup() has already restarted the trial's job in the same tree (named after the trial id), and a
            # training job resumes from its tree's newest checkpoint: there is nothing else to restore.
            saved = Path(checkpoint.get("job_dir", self.base)) if checkpoint else self.base
            if saved != self.base:
                raise RuntimeError(f"trial checkpoint points at {saved}, but this trial's job runs in {self.base}")

        def cleanup(self) -> None:
            if self.process.poll() is None:  # early-stopped: stop the job as SageMaker's tuner does
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(JOB_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()

    return TrainingJobTrial


def _follow(path: Path, process: subprocess.Popen) -> Iterator[str]:
    """The lines of ``path`` as ``process`` writes them, until it exits."""
    buffer = ""
    with path.open() as reader:
        while True:
            chunk = reader.read()
            if chunk:
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                yield from lines
            elif process.poll() is not None:
                if buffer:
                    yield buffer
                return
            else:
                time.sleep(0.2)


def wait_for_jobs(jobs_dir: Path, timeout_s: float = 120.0) -> list[int]:
    """Wait for every trial's training job to exit (early-stopped ones save a checkpoint first); the PIDs still
    running after ``timeout_s`` are killed and returned."""
    deadline = time.monotonic() + timeout_s
    stuck = []
    for pid_file in sorted(jobs_dir.glob(f"*/{JOB_PID}")):
        try:
            job = psutil.Process(int(pid_file.read_text()))
            if job.create_time() > pid_file.stat().st_mtime + 5:
                continue  # the PID was reused by something else
            job.wait(max(0.1, deadline - time.monotonic()))
        except (psutil.NoSuchProcess, ValueError):
            continue
        except psutil.TimeoutExpired:
            stuck.append(job.pid)
            job.kill()
    return stuck
