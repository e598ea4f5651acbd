"""SIGTERM and SIGINT in every phase of a job (runtime/stop_signals.py, the table in docs/RELIABILITY.md): each ends
within the grace period with one ``rlrt: stopped by`` line, exit 143 (SIGTERM) or 130 (SIGINT), the reason in
``output/failure``, the checkpoint kept and ``model/`` complete (its manifest verifies) or absent. Each phase is
reached by watching the job's log for the phase's line (``RLRT_TIMINGS=1`` marks)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from runtime.train.manifest import verify_manifest
from tests.conftest import make_job_tree, run_rlrt, start_rlrt

SHORT = {
    "rl.training.stop.training_iteration": 1,
    "rl.training.config.train_batch_size": 400,
    "rl.training.config.sgd_minibatch_size": 100,
    "rl.training.config.num_sgd_iter": 1,
}
LONG = {**SHORT, "rl.training.stop.training_iteration": 1000}
GRACE_S = 40  # SageMaker kills 120 s after SIGTERM; the model folder written after a stop takes a few seconds


def _signal_at(args: list[str], base: Path, log: Path, line: str, signum: int) -> tuple[int, str, float]:
    """Run ``rlrt ARGS``, send ``signum`` to its process group (Ctrl-C's and SageMaker's way) as soon as ``line``
    appears in its log; returns the exit code, the log and the seconds from the signal to the exit."""
    proc = start_rlrt(args, base=base, log=log, RLRT_TIMINGS="1")
    try:
        deadline = time.monotonic() + 300
        while line not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"ended before {line!r}:\n{log.read_text()[-3000:]}"
        os.killpg(proc.pid, signum)
        sent = time.monotonic()
        code = proc.wait(timeout=120)
        return code, log.read_text(), time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _model_complete_or_absent(model: Path) -> bool:
    """True when ``model/`` holds a complete model folder; False when it holds none; fails on a half one."""
    entries = [p for p in model.iterdir() if p.name != "code"] if model.is_dir() else []
    if not entries:
        return False
    assert verify_manifest(model).status == "intact", sorted(p.name for p in entries)
    assert not (model / ".rlrt-staging").exists()
    return True


# phase, the log line that starts it, the signal, the hyperparameters, what the failure file names
TRAINING_PHASES = [
    ("start-up", "rlrt-timing: spec", signal.SIGTERM, SHORT, "during start-up"),
    ("training", "training_iteration: 1\n", signal.SIGINT, LONG, "during training"),
    ("the final video", "rlrt-timing: loop done", signal.SIGTERM, SHORT, "Stopped by SIGTERM during"),
    ("export", "rlrt-timing: model folder", signal.SIGTERM, SHORT, "during writing the model folder"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("phase", "line", "signum", "hyperparameters", "named"), TRAINING_PHASES, ids=[p[0] for p in TRAINING_PHASES]
)
def test_a_signal_in_each_training_phase_keeps_what_it_can_and_says_so(
    tmp_path: Path, phase: str, line: str, signum: int, hyperparameters: dict, named: str
) -> None:
    tree = make_job_tree(tmp_path / "ml", hyperparameters)
    code, log, took = _signal_at(["train"], tree.base, tmp_path / "job.log", line, signum)
    expected = 130 if signum == signal.SIGINT else 143
    assert code == expected, log[-3000:]
    assert took < GRACE_S, log[-3000:]
    assert log.count("rlrt: stopped by ") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    failure = tree.failure.read_text()
    assert failure.startswith(f"Stopped by {signal.Signals(signum).name}") and named in failure, failure
    checkpoints = sorted(p.name for p in tree.checkpoints.glob("checkpoint_*"))
    complete = _model_complete_or_absent(tree.model)
    if phase == "start-up":
        assert checkpoints == [] and not complete, log[-3000:]
        return
    assert checkpoints, log[-3000:]
    assert complete, log[-3000:]  # written from the checkpoint the job kept
    iteration = json.loads((tree.model / "metadata.json").read_text())["training"]["training_iteration"]
    assert checkpoints[-1] == f"checkpoint_{iteration:06d}"
    assert f"holds the policy at iteration {iteration}" in failure or "is complete" in failure, failure
    if phase == "training":  # an interrupted job's model evaluates
        played = run_rlrt(
            [
                "evaluate",
                "--base-dir",
                str(tmp_path / "eval"),
                "--model",
                str(tree.model),
                "--set",
                "evaluate_episodes=2",
                "--set",
                "record_video_every=0",
            ],
            timeout=240,
        )
        assert played.returncode == 0, played.stderr[-3000:]
        assert played.stdout.count("Testing>") == 2


@pytest.mark.slow
def test_sigterm_while_rlrt_evaluate_films_its_first_episodes(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", SHORT)
    trained = run_rlrt(["train"], base=tree.base, timeout=300)
    assert trained.returncode == 0, trained.stderr[-3000:]
    evaluation = tmp_path / "eval"
    # Far more episodes than a loaded machine plays between the line and the signal (300 short CartPole episodes
    # once all ended first): the signal must find the evaluation running.
    code, log, took = _signal_at(
        ["evaluate", "--base-dir", str(evaluation), "--model", str(tree.model), "--set", "evaluate_episodes=100000"],
        evaluation,
        tmp_path / "eval.log",
        "rlrt: evaluating ",
        signal.SIGTERM,
    )
    assert code == 143, log[-3000:]
    assert took < GRACE_S and log.count("rlrt: stopped by SIGTERM during the evaluation") == 1, log[-3000:]
    assert log.count("Testing>") < 100000
    assert (evaluation / "output" / "failure").read_text().startswith("Stopped by SIGTERM during the evaluation")


@pytest.mark.slow
def test_sigterm_during_rlrt_collect_leaves_no_output(tmp_path: Path) -> None:
    output = tmp_path / "rollouts.csv"
    code, log, took = _signal_at(
        ["collect", "--num-envs", "50", "--num-episodes", "200", "--output", str(output)],
        tmp_path,
        tmp_path / "collect.log",
        "collect:",
        signal.SIGTERM,
    )
    assert code == 143, log[-3000:]
    assert took < GRACE_S and log.count("rlrt: stopped by SIGTERM during collecting rollouts") == 1, log[-3000:]
    assert not output.exists() and not list(tmp_path.glob(".rollouts.csv*"))


# After the model folder: the line the signal follows, the signal, the exit, what the job's last line says
AFTER_THE_MODEL = [
    # The logs close while the video films, held so that they are never half closed: the stop names either.
    ("rlrt-timing: final video", signal.SIGINT, 130, "rlrt: stopped by SIGINT during "),
    ("rlrt: done (", signal.SIGTERM, 0, "rlrt: SIGTERM received after the job finished: The model in "),
]


@pytest.mark.slow
@pytest.mark.parametrize(("line", "signum", "expected", "said"), AFTER_THE_MODEL, ids=["final video", "done"])
def test_a_signal_after_the_model_folder_names_the_phase_and_keeps_the_trained_model(
    tmp_path: Path, line: str, signum: int, expected: int, said: str
) -> None:
    """Once ``model/`` is complete a stop names what it cut short (the final video, filmed while the reporter
    closes) and never turns the trained job into a lost one; after ``rlrt: done`` the job ends as it finished (exit
    0, no failure file) while Ray closes down."""
    tree = make_job_tree(tmp_path / "ml", {**SHORT, "record_video_every": 1})
    code, log, took = _signal_at(["train"], tree.base, tmp_path / "job.log", line, signum)
    assert code == expected and took < GRACE_S, log[-3000:]
    assert said in log and "start-up" not in log and "Traceback" not in log, log[-3000:]
    assert _model_complete_or_absent(tree.model), log[-3000:]
    if expected == 0:
        assert not tree.failure.exists(), tree.failure.read_text()
        return
    failure = tree.failure.read_text()
    assert failure.startswith(
        (
            "Stopped by SIGINT during the final video. The checkpoint ",
            "Stopped by SIGINT during closing the training logs. The checkpoint ",
        )
    ), failure
    assert failure.endswith(f"The model in {tree.model} is complete; the final video was not written.\n"), failure
    assert (tree.base / "output" / "intermediate" / "learning_curve.png").stat().st_size > 0
