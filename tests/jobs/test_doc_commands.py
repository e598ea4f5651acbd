"""The docs' commands, run as written.

Every command of a fenced shell block in README.md and docs/*.md, and every code span of docs/NOTEBOOKS.md's "local
command" column, is either run here, exactly as the doc writes it, or listed below with why it is not
(``SKIPPED``, ``SKIPPED_SECTIONS``, ``NOT_COMMANDS``). ``test_every_doc_command_is_run_or_listed`` fails when a doc
gains a command this module neither runs nor lists, or loses one it still names.

How a command runs:

- (tests/doc_commands.py) in a temporary folder, through ``bash``, with the pinned environment on ``PATH`` (``rlrt``,
  ``python``: the README's tour) and a link ``entrypoints`` to the clone's, so the docs' clone-relative paths resolve; a
  command that calls ``scripts/`` runs in the clone itself (the scripts find the clone from their own path);
- the placeholders (``JOB``, ``EVAL``, ``myjob``, ``states/``, ``tuning.yaml``, a user's ``reward_function.py``, ...)
  are real folders and files of that temporary folder, made by the docs' earlier commands or, for what a user brings,
  by the test;
- tiny stops are forced from outside, as the pytest plugin (runtime/pytest_plugin.py) forces them: through the job
  tree's ``input/config/hyperparameters.json``, which the runtime reads and a command's ``--set`` wins over. A command
  that names its tree (``--base-dir DIR``, ``SAGEMAKER_BASE_DIR=DIR``) finds that file written there beforehand; one
  that names none (``rlrt train`` alone would create ``./rlrt-jobs/<preset>-<time>``) runs with ``SAGEMAKER_BASE_DIR``
  pointing at such a tree, which the later commands' placeholder (``JOB``, ``job``) then is. Nothing is appended to
  a command. The same file also makes the heavy presets' batches small (Reacher, DeepRacer) and turns an evaluation's
  videos off where filming would dominate the test (5 Reacher episodes: ~30 s on two cores);
- the README's tour trains as a user types it, in new ``./rlrt-jobs/<name>-<time>`` trees (their names hold the
  launch time, so no hyperparameters file can wait in them): its ``rlrt`` is a script on ``PATH`` ahead of the pinned
  environment's that adds the tiny stop (``TOUR_TINY``) to ``rlrt train`` and runs the real one (:func:`tiny_rlrt`);
- the one rewrite: a server's port. ``rlrt serve`` listens where ``SAGEMAKER_BIND_TO_PORT`` says (a free port),
  and where a command itself names a port (``--port 8081``, ``curl localhost:8080``) the free port replaces it;
- output the doc shows is checked loosely (exit code 0 and the key lines).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT, rlrt_env
from tests.doc_commands import (
    DOC,
    NOTEBOOKS,
    TINY_STOP,
    VENV_BIN,
    Cmd,
    assert_shows,
    c,
    doc_env,
    job_tree,
    model_tarball,
    normalize,
    output_prefixes,
    run_doc,
    serving,
    tiny_tree,
    with_port,
)
from tests.jobs.test_serving_server import free_port
from tests.trained_models import tf_env  # noqa: F401
from tests.unit.test_deepracer_runtime import METADATA, REWARD, SEED_HYPERPARAMETERS

pytestmark = pytest.mark.slow

README = "README.md"
SAGEMAKER_DOC = "docs/SAGEMAKER.md"
DEEPRACER_DOC = "docs/DEEPRACER.md"
OFFLINE_DOC = "docs/OFFLINE.md"
SERVING_DOC = "docs/SERVING.md"
SCALING_DOC = "docs/SCALING.md"
UNITY_DOC = "docs/UNITY.md"

# README: set-up and the first training job.
ACTIVATE = c(README, 'source "$(scripts/install.sh)/bin/activate"')
README_TRAIN = c(README, "scripts/rlrt train")
# README: the five-minute tour.
TOUR_TRAIN = c(README, "rlrt train --seed 1")
TOUR_SEEDS = c(README, "for seed in 2 3; do rlrt train --seed $seed & done; wait")
TOUR_PLOT = c(README, "rlrt plot rlrt-jobs/cartpole-ppo-s* -o seeds.png")
TOUR_EVALUATE = c(README, "rlrt evaluate --model rlrt-jobs/cartpole-ppo-s1-*")
TOUR_SERVE = c(README, "rlrt serve --model rlrt-jobs/cartpole-ppo-s1-*/model")
TOUR_CURL = c(
    README,
    "curl -s localhost:8080/invocations -H 'Content-Type: application/json' "
    "-d '{\"instances\": [[0.0, 0.0, 0.0, 0.0]]}'",
)
TOUR_MLFLOW = c(README, "rlrt train --track mlflow")
TOUR_TINY = " ".join(
    f"--set {key}={value}"
    for key, value in {
        **TINY_STOP,
        "rl.training.config.train_batch_size_per_learner": 400,
        "rl.training.config.minibatch_size": 200,
        "record_video_every": 0,
    }.items()
)
"""What the tour's ``rlrt`` adds to ``rlrt train``: the other doc tests' tiny stop, in a small iteration, no video."""
# NOTEBOOKS 1: Roboschool.
PRESETS = c(NOTEBOOKS, "rlrt presets")
REACHER_TRAIN = c(NOTEBOOKS, "rlrt train --preset reacher-ppo --set rl.training.config.num_sgd_iter=10")
LS_VIDEOS = c(NOTEBOOKS, "ls JOB/output/intermediate/*.mp4")
LS_MODEL = c(NOTEBOOKS, "ls JOB/model")
REACHER_EVALUATE = c(
    NOTEBOOKS,
    "rlrt evaluate --model JOB/model --set evaluate_episodes=5 --set algorithm=PPO --set env=RoboschoolReacher-v1",
)
SERVE_JOB = c(NOTEBOOKS, "rlrt serve --model JOB/model")
CURL_REACHER = c(
    NOTEBOOKS,
    "curl -s localhost:8080/invocations -H 'Content-Type: application/json' "
    '-d \'{"inputs": {"observations": [[1,1,1,1,1,1,1,1,1]]}}\'',
)
# NOTEBOOKS 3 and SCALING: tuning.
TUNE = c(NOTEBOOKS, "rlrt tune tuning.yaml")
TUNE_OUTPUT = c(SCALING_DOC, "rlrt tune tuning.yaml --output ./tune-hopper")
# NOTEBOOKS 4: Batch RL.
COLLECT_SRC = c(
    NOTEBOOKS, "rlrt collect --env CartPole-v0 --num-envs 100 --num-episodes 5 --output src/cartpole_dataset.csv"
)
TRAIN_COACH = c(NOTEBOOKS, "SAGEMAKER_BASE_DIR=JOB SM_MODULE_DIR=src python entrypoints/train-coach.py")
LS_CHECKPOINT = c(NOTEBOOKS, "ls JOB/output/data/checkpoint")
EVALUATE_OFFLINE_EVAL = c(NOTEBOOKS, "rlrt evaluate-offline --base-dir EVAL --set evaluate_steps=1000")
TRANSFORM_STATES = c(
    NOTEBOOKS,
    "rlrt transform --model JOB/model --input states/ --output out/ --join-source Input --strategy SingleRecord",
)
DUMP_STATES = c(NOTEBOOKS, "rlrt collect --dump-states states/env_states.json")
COLLECT_POLICY = c(NOTEBOOKS, "rlrt collect --policy-file out/env_states.json.out")
# OFFLINE.md's quick start.
OFFLINE_COLLECT = c(
    OFFLINE_DOC,
    "rlrt collect --env CartPole-v0 --num-envs 100 --num-episodes 5 --output job/input/data/train/cartpole.csv",
)
OFFLINE_TRAIN = c(OFFLINE_DOC, "rlrt train --base-dir job --preset cartpole-bcq")
OFFLINE_EVALUATE = c(OFFLINE_DOC, "rlrt evaluate-offline --base-dir evaljob --model job/model")
# DEEPRACER.md's quick start and NOTEBOOKS 5.
DR_MKDIR = c(DEEPRACER_DOC, "mkdir -p myjob/input/data/train")
DR_COPY = c(DEEPRACER_DOC, "cp reward_function.py model_metadata.json myjob/input/data/train/")
DR_TRAIN = c(
    DEEPRACER_DOC,
    "rlrt train --base-dir myjob --preset deepracer-ppo --set WORLD_NAME=curvy_loop "
    "--set batch_size=64 --set rl.training.stop.time_total_s=1800",
)
DR_EVALUATE = c(DEEPRACER_DOC, "rlrt deepracer-evaluate --base-dir myeval --model myjob/model --trials 5")
DR_RACE = c(DEEPRACER_DOC, "rlrt deepracer-evaluate --base-dir race --model myjob/model --opponent otherjob/model")
NB_DR_TRAIN = c(NOTEBOOKS, "rlrt train --preset deepracer-ppo --base-dir JOB")
NB_DR_EVALUATE = c(NOTEBOOKS, "rlrt deepracer-evaluate --model JOB/model --trials 5")
NB_DR_RACE = c(NOTEBOOKS, "rlrt deepracer-evaluate --model JOB/model --opponent OTHER/model")
# A tiny DeepRacer job's one batch (num_episodes_between_training=1: 100 steps) need not hold an episode's end (the
# car may stay on the track longer; CI saw an iteration end with none: no Training> line, no episode_reward_mean).
# Whole episodes are sampled instead; each ends by the env's 10,000-step limit.
WHOLE_EPISODES = {"num_episodes_between_training": "1", "rl.training.config.batch_mode": "complete_episodes"}
# SERVING.md.
TF_EXPORT = c(SERVING_DOC, 'export RLRT_TF_PYTHON="$(scripts/install-tf.sh)/bin/python"')
TF_TRAIN = c(SERVING_DOC, "rlrt train")
SERVE_DEFAULT = c(SERVING_DOC, "rlrt serve")
SERVE_TARBALL = c(SERVING_DOC, "rlrt serve --model path/to/model.tar.gz --port 8081 --workers 4")
SERVE_ENTRYPOINT = c(SERVING_DOC, "python entrypoints/serve.py")
CURL_SEED = c(
    SERVING_DOC,
    "curl -s localhost:8080/invocations -H 'Content-Type: application/json' -d '{\"inputs\": "
    '{"observations": [[0.0, 0.1, 0.0, -0.1]], "prev_action": [0, 0], "is_training": '
    'false, "prev_reward": -1, "seq_lens": -1}}\'',
)
TRANSFORM_DIR = c(SERVING_DOC, "rlrt transform --model job/model --input states/ --output predictions/")
TRANSFORM_TARBALL = c(
    SERVING_DOC, "rlrt transform --model model.tar.gz --input env_states.json --output out/ --join-source Input"
)
TRANSFORM_CSV = c(
    SERVING_DOC,
    "rlrt transform --model job/model --input rows.csv --output out/ --accept text/csv --strategy SingleRecord",
)
EVALUATE_JOB = c(SERVING_DOC, "rlrt evaluate --model job/model --set evaluate_episodes=3")
EVALUATE_ENTRYPOINT = c(SERVING_DOC, "python entrypoints/evaluate-ray.py")

RUN: dict[str, tuple[Cmd, ...]] = {
    "test_readme_set_up_and_first_job": (ACTIVATE, README_TRAIN),
    "test_readme_tour": (TOUR_TRAIN, TOUR_SEEDS, TOUR_PLOT, TOUR_EVALUATE, TOUR_SERVE, TOUR_CURL, TOUR_MLFLOW),
    "test_notebook_roboschool_commands": (
        PRESETS,
        REACHER_TRAIN,
        LS_VIDEOS,
        LS_MODEL,
        REACHER_EVALUATE,
        SERVE_JOB,
        CURL_REACHER,
    ),
    "test_notebook_batch_rl_commands": (
        COLLECT_SRC,
        TRAIN_COACH,
        LS_CHECKPOINT,
        EVALUATE_OFFLINE_EVAL,
        DUMP_STATES,
        TRANSFORM_STATES,
        COLLECT_POLICY,
    ),
    "test_offline_quick_start": (OFFLINE_COLLECT, OFFLINE_TRAIN, OFFLINE_EVALUATE),
    "test_deepracer_commands": (
        DR_MKDIR,
        DR_COPY,
        DR_TRAIN,
        NB_DR_TRAIN,
        DR_EVALUATE,
        DR_RACE,
        NB_DR_EVALUATE,
        NB_DR_RACE,
    ),
    "test_serving_commands": (
        TF_EXPORT,
        TF_TRAIN,
        SERVE_DEFAULT,
        CURL_SEED,
        SERVE_TARBALL,
        SERVE_ENTRYPOINT,
        TRANSFORM_DIR,
        TRANSFORM_TARBALL,
        TRANSFORM_CSV,
        EVALUATE_JOB,
        EVALUATE_ENTRYPOINT,
    ),
    "test_tuning_commands": (TUNE_OUTPUT, TUNE),
}
"""The test that runs each command."""

UNITY_BUILD = (
    "needs a Unity Linux player build (none ships; tests/jobs/test_unity_training_jobs.py trains and "
    "evaluates through tests/unity_player/, a stand-in that speaks ML-Agents' gRPC messages)"
)
SDK3_SERVE = (
    "SDK 3's model served by the image, which needs a Docker engine: tests/image/test_sdk_local_mode.py's "
    "SDK 3 test (scripts/test-image) serves the model.tar.gz it trained the same way and sends a request"
)
SKIPPED: dict[Cmd, str] = {
    c(README, "scripts/test"): "the whole suite and the image stage (tens of minutes): CI's own command (.ci/run)",
    c(
        SAGEMAKER_DOC,
        "mkdir -p served/model && tar -xzf <local_container_root>/compressed_artifacts/model.tar.gz -C served/model",
    ): SDK3_SERVE,
    c(SAGEMAKER_DOC, 'docker run --rm -p 127.0.0.1:8080:8080 -v "$PWD/served:/opt/ml" rlrt:cpu serve'): SDK3_SERVE,
    c(
        SAGEMAKER_DOC,
        "curl -s 127.0.0.1:8080/invocations -H 'Content-Type: application/json' -d '{\"instances\": "
        "[[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]}'",
    ): SDK3_SERVE,
    c(UNITY_DOC, "mkdir -p job/input/data/train && cp -r MyGameLinuxBuild/* job/input/data/train/"): UNITY_BUILD,
    c(
        UNITY_DOC,
        "rlrt train --base-dir job --preset unity-basic-ppo --set rl.training.config.env_config.env_name=MyGame.x86_64",
    ): UNITY_BUILD,
    c(NOTEBOOKS, "rlrt train --preset unity-basic-ppo --base-dir JOB"): UNITY_BUILD,
    c(NOTEBOOKS, "rlrt evaluate --model JOB/model --set evaluate_episodes=5 --set env=Basic"): UNITY_BUILD,
}
"""Commands not run, and why."""

SKIPPED_SECTIONS: dict[tuple[str, str], str] = {
    (SAGEMAKER_DOC, "With docker"): "a Docker engine (root, apt) and the image: scripts/test-image runs this flow "
    "(build, train, serve, /ping, /invocations) under a real engine",
}
"""Whole sections whose every command is not run, and why."""

NOT_COMMANDS: dict[Cmd, str] = {
    c(NOTEBOOKS, "--set rl.training.config.horizon=5000"): "a flag to add to the training command above it",
    c(
        NOTEBOOKS, "--set rl.training.config.env_config.env_name=basic_env_linux.x86_64"
    ): "a flag to add to the Unity training command above it",
    c(NOTEBOOKS, "JOB/input/config/hyperparameters.json"): "where the train-coach command's hyperparameters go",
    c(NOTEBOOKS, "JOB/input/data/train/"): "where the Unity build goes",
    c(NOTEBOOKS, "train"): "the channel the Unity game goes in",
    c(NOTEBOOKS, "tuning.yaml"): "the file the tune command reads (test_tuning_commands writes one)",
    c(
        NOTEBOOKS, "EVAL/input/data/checkpoint/"
    ): "where the evaluate-offline command's checkpoint goes (test_notebook_batch_rl_commands puts it there)",
    c(NOTEBOOKS, "--model JOB/model"): "the alternative flag of the collect command beside it",
    c(
        NOTEBOOKS, "JOB/input/data/train/<prefix>/model/model_metadata.json"
    ): "where the DeepRacer files go (test_deepracer_commands puts them there)",
    c(
        NOTEBOOKS, ".../<prefix>/customer_reward_function.py"
    ): "where the DeepRacer files go (test_deepracer_commands puts them there)",
}
"""Code spans of NOTEBOOKS.md's "local command" column that are a flag or a path, not a command."""


def test_every_doc_command_is_run_or_listed() -> None:
    run = {cmd for commands in RUN.values() for cmd in commands}
    in_skipped_sections = {cmd for cmd, (_, section) in DOC.items() if (cmd[0], section) in SKIPPED_SECTIONS}
    found = set(DOC) - in_skipped_sections
    listed = run | set(SKIPPED) | set(NOT_COMMANDS)
    missing = sorted(found - listed)
    assert not missing, (
        "commands in the docs that this test neither runs nor lists (add each to RUN with a test, "
        "or to SKIPPED / NOT_COMMANDS with why):\n" + "\n".join(f"{d}: {t}" for d, t in missing)
    )
    stale = sorted(listed - found)
    assert not stale, "listed here but no longer in the docs:\n" + "\n".join(f"{d}: {t}" for d, t in stale)
    twice = (run & set(SKIPPED)) | (run & set(NOT_COMMANDS)) | (set(SKIPPED) & set(NOT_COMMANDS))
    assert not twice, f"listed twice: {sorted(twice)}"
    sections = {(doc, section) for doc, section in SKIPPED_SECTIONS}
    assert all(any((cmd[0], s) == key for cmd, (_, s) in DOC.items()) for key in sections), (
        f"a skipped section has no command any more: {sections}"
    )
    for name in RUN:
        assert callable(globals().get(name)), f"RUN names {name}, which is not a test of this module"


def test_the_extraction_finds_what_a_reader_sees() -> None:
    """The extraction itself: continuation lines joined, comments and output lines left out, table spans read."""
    assert DR_TRAIN in DOC and "\\\n" in DOC[DR_TRAIN][0]
    assert README_TRAIN in DOC and "#" in DOC[README_TRAIN][0]
    assert not any(text.startswith(("rlrt:", "episode_reward_mean", "Testing>", "{")) for _, text in DOC)
    assert (SERVING_DOC, normalize("rlrt serve --model path/to/model.tar.gz --port 8081 --workers 4")) in DOC
    assert DOC[TRAIN_COACH][1].startswith("4. Batch RL")
    assert normalize("a  b \\\n   c   # d") == "a b c" and normalize("echo '#x' # y") == "echo '#x'"


def test_the_docker_section_runs_unattended_and_serves_on_loopback_only() -> None:
    """Its commands are run by scripts/test-image's flow, not here; what a reader pastes must still work on a bare
    machine (apt-get with a fresh package list and no prompt), publish the model server on 127.0.0.1 only, and leave
    a checkout clean (the job tree it makes, opt_ml/, is ignored by git)."""
    docker = [text for (doc, text), (_, section) in DOC.items() if (doc, section) == (SAGEMAKER_DOC, "With docker")]
    installs = [text for text in docker if "apt-get install" in text]
    assert installs and all("apt-get update" in text and " -y " in text for text in installs), installs
    published = [text for text in docker if text.startswith("docker run") and " -p " in text]
    assert published and all(re.search(r" -p 127\.0\.0\.1:\d+:\d+ ", text) for text in published), published
    assert any("opt_ml" in text for text in docker)
    assert "/opt_ml/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_the_sagemaker_doc_says_what_sdk_2_local_mode_and_scripts_test_image_need() -> None:
    """SDK 2's local mode worked only after installing docker-compose, passing ``code_location=`` (deploy) and
    ``container_config={"shm_size": ...}``, none of which the docs said; scripts/test-image builds a large host
    environment first. The flow docs/SAGEMAKER.md shows is the one tests/image/sdk_local_mode.py runs."""
    doc = (REPO_ROOT / SAGEMAKER_DOC).read_text()
    local_mode = doc[doc.index("SDK 2's local mode") : doc.index("## With docker")]
    for needed in (
        "docker-compose",
        "code_location=",
        '"container_config": {"shm_size": "2g"}',
        "deploy(",
        "returns `None`",
        "Predictor(",
    ):
        assert needed in local_mode, needed
    tested = (REPO_ROOT / "tests" / "image" / "sdk_local_mode.py").read_text()
    assert "code_location=" in tested and "container_config" in tested
    assert re.search(r"Predictor\(\s*endpoint\b", tested)
    assert re.search(r"scripts/test-image` installs .*~2\.8 GB", doc, re.S)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The folder the commands run in, with ``entrypoints`` linked to the clone's (the docs' clone-relative paths)."""
    (tmp_path / "entrypoints").symlink_to(REPO_ROOT / "entrypoints")
    return tmp_path


# --- the tests -------------------------------------------------------------------------------------------------------


def test_readme_set_up_and_first_job(tmp_path: Path) -> None:
    """README: the set-up line puts the pinned environment's ``rlrt`` and ``python`` on PATH; ``scripts/rlrt train``
    trains the default preset and prints what the README shows. Both run in the clone (``scripts/``)."""
    plain_path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != VENV_BIN)
    venv = subprocess.run(
        ["bash", "scripts/install.sh"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    shown = run_doc(
        ACTIVATE,
        REPO_ROOT,
        env={**rlrt_env(None), "PATH": plain_path},
        text=DOC[ACTIVATE][0] + '\necho "rlrt=$(command -v rlrt) python=$(command -v python)"',
    )
    assert f"rlrt={venv}/bin/rlrt python={venv}/bin/python" in shown, shown

    job = tiny_tree(tmp_path / "job")
    output = run_doc(README_TRAIN, REPO_ROOT, env=doc_env(job))
    assert_shows(output, output_prefixes("rlrt: outputs:", README))
    assert f"rlrt: local job tree (laid out like /opt/ml): {job}" in output
    assert (job / "model" / "metadata.json").is_file() and (job / "output" / "intermediate" / "progress.csv").is_file()


def tiny_rlrt(folder: Path) -> dict[str, str]:
    """The doc environment with an ``rlrt`` on ``PATH`` ahead of the pinned environment's: ``rlrt train`` gets
    ``TOUR_TINY`` added, every other command runs as it is."""
    shim = folder / "tiny-bin" / "rlrt"
    shim.parent.mkdir()
    shim.write_text(
        f'#!/bin/bash\nif [ "$1" = train ]; then set -- "$@" {TOUR_TINY}; fi\nexec "{VENV_BIN}/rlrt" "$@"\n'
    )
    shim.chmod(0o755)
    env = doc_env()
    env["PATH"] = os.pathsep.join([str(shim.parent), env["PATH"]])
    return env


def test_readme_tour(work: Path) -> None:
    """README's five-minute tour, typed as written: a tree named after its seed, two more seeds and their plot (a PNG),
    an evaluation written beside the model, the model served and asked, a job tracked in MLflow's store."""
    env = tiny_rlrt(work)
    jobs = work / "rlrt-jobs"
    trained = run_doc(TOUR_TRAIN, work, env=env)
    [tree] = jobs.iterdir()
    assert re.fullmatch(r"cartpole-ppo-s1-\d{8}-\d{6}", tree.name), tree
    assert_shows(trained, output_prefixes("rlrt: outputs:", README))
    assert re.search(r"^episode_reward_mean: ", trained, re.M), trained[-3000:]

    run_doc(TOUR_SEEDS, work, env=env)
    seeds = sorted(jobs.glob("cartpole-ppo-s*"))
    assert [re.sub(r"-\d{8}-\d{6}$", "", t.name) for t in seeds] == [f"cartpole-ppo-s{n}" for n in (1, 2, 3)], seeds
    assert all((t / "model" / "metadata.json").is_file() for t in seeds), seeds
    plotted = run_doc(TOUR_PLOT, work, env=env)
    assert f"rlrt: 3 run(s) in 1 configuration(s) drawn to {work / 'seeds.png'}" in plotted, plotted
    assert (work / "seeds.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    played = run_doc(TOUR_EVALUATE, work, env=env)
    [evaluation] = (tree / "output" / "evaluation").iterdir()  # beside the model it played
    report = json.loads((evaluation / "evaluation.json").read_text())
    assert report["episodes"] == 5 and report["model"] == str(tree / "model"), report
    assert len(re.findall(r"^Testing> ", played, re.M)) == 5 and len(list(evaluation.glob("*.mp4"))) == 5, played

    port = free_port()
    with serving(TOUR_SERVE, work, port):
        answer = json.loads(run_doc(TOUR_CURL, work, text=with_port(TOUR_CURL, "8080", port)))
    [probabilities] = answer["predictions"]
    assert len(probabilities) == 2 and sum(probabilities) == pytest.approx(1.0), answer

    tracked = run_doc(TOUR_MLFLOW, work, env=env)
    [plain] = [t for t in jobs.iterdir() if re.fullmatch(r"cartpole-ppo-\d{8}-\d{6}", t.name)]
    store = jobs / "mlflow.db"
    assert f"rlrt: tracking with MLflow: run '{plain.name}'" in tracked and f"sqlite:///{store}" in tracked, tracked
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    [run] = client.search_runs([client.get_experiment_by_name("rlrt").experiment_id])
    assert run.info.run_name == plain.name and run.info.status == "FINISHED"
    assert "episode_reward_mean" in run.data.metrics
    assert "model/policy.onnx" in {a.path for a in client.list_artifacts(run.info.run_id, "model")}


def test_notebook_roboschool_commands(work: Path) -> None:
    """NOTEBOOKS 1: presets, train Reacher (1 iteration), its video and model, 5 evaluation episodes, serve it and
    send the notebook's request."""
    assert "reacher-ppo" in run_doc(PRESETS, work)
    job = tiny_tree(
        work / "JOB",
        **{
            "rl.training.config.train_batch_size_per_learner": 600,
            "rl.training.config.minibatch_size": 200,
            "rl.training.config.num_envs_per_env_runner": 2,
        },
    )
    trained = run_doc(REACHER_TRAIN, work, env=doc_env(job))
    assert "training PPO on ReacherBulletEnv-v0 (preset reacher-ppo)" in trained and "episode_reward_mean: " in trained
    assert json.loads((job / "model" / "config.json").read_text())["config"]["num_epochs"] == 10  # num_sgd_iter
    assert "rollout-final-iteration-000001.mp4" in run_doc(LS_VIDEOS, work)
    listed = run_doc(LS_MODEL, work).split()
    assert {"checkpoint", "metadata.json", "policy.onnx", "policy.pt"} <= set(listed), listed

    evaluation = job_tree(work / "eval-tree", record_video_every=0)
    played = run_doc(REACHER_EVALUATE, work, env=doc_env(evaluation))
    assert len(re.findall(r"^Testing> .*Steps=150,", played, re.M)) == 5, played[-3000:]
    assert "episode_reward_mean: " in played

    port = free_port()
    with serving(SERVE_JOB, work, port):
        answer = json.loads(run_doc(CURL_REACHER, work, text=with_port(CURL_REACHER, "8080", port)))
    actions = answer["outputs"]["actions"]
    assert len(actions) == 1 and len(actions[0]) == 2 and all(isinstance(a, float) for a in actions[0]), answer


def test_notebook_batch_rl_commands(work: Path) -> None:
    """NOTEBOOKS 4: collect into src/, train-coach.py on it (no channel: the code folder's CSV), the checkpoint in
    output/data, evaluate-offline from the checkpoint channel, dump states, Batch Transform, collect again."""
    run_doc(COLLECT_SRC, work)
    assert (work / "src" / "cartpole_dataset.csv").is_file()
    tiny_tree(work / "JOB", RLCOACH_PRESET="preset-cartpole-ddqnbcq", save_model=1)
    trained = run_doc(TRAIN_COACH, work)
    assert "cartpole_dataset.csv" in trained and "episode_reward_mean: " in trained, trained[-3000:]
    assert (
        work / "JOB" / "output" / "intermediate" / "worker_0.batch_rl_graph.main_level.main_level.agent_0.csv"
    ).is_file()
    listed = run_doc(LS_CHECKPOINT, work).split()
    assert "metadata.json" in listed, listed

    shutil.copytree(work / "JOB" / "output" / "data" / "checkpoint", work / "EVAL" / "input" / "data" / "checkpoint")
    played = run_doc(EVALUATE_OFFLINE_EVAL, work)
    steps = [int(s) for s in re.findall(r"^Testing> .*Steps=(\d+),", played, re.M)]
    assert steps and sum(steps) >= 1000 and sum(steps[:-1]) < 1000, played[-3000:]

    run_doc(DUMP_STATES, work)
    states = (work / "states" / "env_states.json").read_text().splitlines()
    assert len(states) == 100 and len(json.loads(states[0])) == 4
    run_doc(TRANSFORM_STATES, work)
    answers = (work / "out" / "env_states.json.out").read_text().splitlines()
    assert len(answers) == 100 and "SageMakerOutput" in json.loads(answers[0]), answers[:2]
    run_doc(COLLECT_POLICY, work)
    assert (work / "rollouts.csv").read_text().startswith("action,all_action_probabilities,episode_id,reward")


def test_offline_quick_start(work: Path) -> None:
    """docs/OFFLINE.md's three lines, as written: collect into the train channel, train BCQ, evaluate its model in a
    tree of its own (the line named no model, and failed)."""
    run_doc(OFFLINE_COLLECT, work)
    tiny_tree(work / "job")
    trained = run_doc(OFFLINE_TRAIN, work)
    assert "cartpole.csv" in trained and (work / "job" / "model" / "metadata.json").is_file(), trained[-3000:]
    played = run_doc(OFFLINE_EVALUATE, work)
    assert re.search(r"^Testing> ", played, re.M) and "episode_reward_mean: " in played, played[-3000:]
    assert (work / "evaljob" / "output" / "intermediate" / "evaluation.json").is_file()


def assert_user_files(model: Path) -> None:
    """The model folder kept the user's reward function and car (not DeepRacer's defaults: a camera car)."""
    assert (model / "reward_function.py").read_text() == REWARD
    assert json.loads((model / "model_metadata.json").read_text())["sensor"] == METADATA["sensor"]


def test_deepracer_commands(work: Path) -> None:
    """DEEPRACER.md's quick start (the user's files copied into myjob's train channel) and NOTEBOOKS 5 (the
    notebook's layout: the S3 prefix's files in JOB's train channel, the notebook's hyperparameters); each model
    evaluated 5 trials and raced against the other (``otherjob`` and ``OTHER`` are links to the other job)."""
    (work / "reward_function.py").write_text(REWARD)
    (work / "model_metadata.json").write_text(json.dumps(METADATA))  # a vector sensor: a small network
    run_doc(DR_MKDIR, work)
    run_doc(DR_COPY, work)
    tiny_tree(work / "myjob", **WHOLE_EPISODES)
    trained = run_doc(DR_TRAIN, work)
    assert "rlrt: DeepRacer track 'curvy_loop'" in trained and re.search(r"^Training> ", trained, re.M), trained[-3000:]
    assert json.loads((work / "myjob" / "model" / "config.json").read_text())["config"]["minibatch_size"] == 64
    assert_user_files(work / "myjob" / "model")

    prefix = work / "JOB" / "input" / "data" / "train" / "prefix"
    (prefix / "model").mkdir(parents=True)
    (prefix / "model" / "model_metadata.json").write_text(json.dumps(METADATA))
    (prefix / "customer_reward_function.py").write_text(REWARD)
    tiny_tree(work / "JOB", **{**SEED_HYPERPARAMETERS, **WHOLE_EPISODES})
    trained = run_doc(NB_DR_TRAIN, work)
    assert "episode_reward_mean: " in trained, trained[-3000:]
    assert_user_files(work / "JOB" / "model")  # found under the prefix, as the notebook's S3 keys name them
    (work / "otherjob").symlink_to("JOB")
    (work / "OTHER").symlink_to("myjob")

    for cmd, trials, base in ((DR_EVALUATE, 5, work / "myeval"), (NB_DR_EVALUATE, 5, None)):
        shown = run_doc(cmd, work)
        metrics_file = (
            base / "output" / "intermediate" / "evaluation_metrics.json"
            if base
            else Path(re.search(r"evaluation metrics in (\S+)", shown).group(1))
        )
        metrics = json.loads(metrics_file.read_text())["metrics"]
        assert [m["trial"] for m in metrics] == list(range(1, trials + 1)), metrics
    for cmd in (DR_RACE, NB_DR_RACE):
        shown = run_doc(cmd, work)
        assert re.search(r"^rlrt: trial 1: model 1 .*; model 2 ", shown, re.M), shown[-3000:]


def test_serving_commands(work: Path, tf_env: tuple[str | None, str]) -> None:
    """docs/SERVING.md: train with the TensorFlow export (in the clone: ``scripts/install-tf.sh``), serve it three
    ways and send the seed's request, Batch Transform three ways, evaluate two ways."""
    if tf_env[0] is None:
        pytest.skip(f"the TensorFlow environment cannot be built here: {tf_env[1]}")
    job = tiny_tree(work / "job")
    trained = run_doc(TF_TRAIN, REPO_ROOT, env=doc_env(job), text=DOC[TF_EXPORT][0] + "\n" + DOC[TF_TRAIN][0])
    assert "1/ (TensorFlow SavedModel)" in trained and (job / "model" / "1" / "saved_model.pb").is_file(), trained

    shown = DOC[CURL_SEED][0]
    answer_line = next(
        line for line in (REPO_ROOT / SERVING_DOC).read_text().splitlines() if line.startswith('{"outputs"')
    )
    expected = json.loads(answer_line)
    port = free_port()
    with serving(SERVE_DEFAULT, work, port, base=job):
        answer = json.loads(run_doc(CURL_SEED, work, text=with_port(CURL_SEED, "8080", port)))
    assert answer.keys() == expected.keys() and answer["outputs"].keys() == expected["outputs"].keys(), (shown, answer)
    assert answer["outputs"]["actions"][0] in (0, 1) and len(answer["outputs"]["action_probabilities"][0]) == 2

    model_tarball(job / "model", work / "path" / "to" / "model.tar.gz")
    port = free_port()
    with serving(SERVE_TARBALL, work, port, text=with_port(SERVE_TARBALL, "8081", port)) as url:
        assert requests.post(url + "/invocations", json={"instances": [[0.0, 0.0, 0.0, 0.0]]}, timeout=30).ok
    port = free_port()
    with serving(SERVE_ENTRYPOINT, work, port, base=job) as url:
        assert requests.get(url + "/ping", timeout=5).json() == {"status": "healthy"}

    (work / "states").mkdir()
    (work / "states" / "env_states.json").write_text("[0.0, 0.1, 0.0, -0.1]\n[0.0, 0.0, 0.0, 0.0]\n")
    run_doc(TRANSFORM_DIR, work)
    predictions = (work / "predictions" / "env_states.json.out").read_text().splitlines()
    assert len(predictions) == 2 and "predictions" in json.loads(predictions[0])
    model_tarball(job / "model", work / "model.tar.gz")
    (work / "env_states.json").write_text('{"observations": [0.0, 0.1, 0.0, -0.1]}\n[0.0, 0.0, 0.0, 0.0]\n')
    run_doc(TRANSFORM_TARBALL, work)
    joined = [json.loads(line) for line in (work / "out" / "env_states.json.out").read_text().splitlines()]
    assert "SageMakerOutput" in joined[0] and set(joined[1]) == {"SageMakerInput", "SageMakerOutput"}, joined
    (work / "rows.csv").write_text("0.0,0.1,0.0,-0.1\n0.0,0.0,0.0,0.0\n")
    run_doc(TRANSFORM_CSV, work)
    rows = (work / "out" / "rows.csv.out").read_text().splitlines()
    assert len(rows) == 2 and len(rows[0].split(",")) == 2, rows

    played = run_doc(EVALUATE_JOB, work)
    assert_shows(played, output_prefixes("Episode reward:", SERVING_DOC))
    assert len(re.findall(r"^Testing> ", played, re.M)) == 3
    evaluation = job_tree(work / "sagemaker-eval", evaluate_episodes=2, algorithm="PPO", env="CartPole-v1")
    shutil.copytree(job / "model", evaluation / "input" / "data" / "model")
    played = run_doc(EVALUATE_ENTRYPOINT, work, env=doc_env(evaluation))
    assert len(re.findall(r"^Testing> ", played, re.M)) == 2, played[-3000:]


TUNING_YAML = """\
# The notebook's ranges on a tiny search: one job of one CartPole iteration.
objective_metric_name: episode_reward_mean
objective_type: Maximize
max_jobs: 1
max_parallel_jobs: 1
strategy: Random
early_stopping_type: Off
static_hyperparameters:
  preset: cartpole-ppo
  rl.training.stop.training_iteration: 1
  rl.training.config.train_batch_size_per_learner: 1000
  rl.training.config.minibatch_size: 250
hyperparameter_ranges:
  rl.training.config.kl_coeff: {type: Continuous, min_value: 0.5, max_value: 1.0}
  rl.training.config.num_sgd_iter: {type: Integer, min_value: 3, max_value: 5}
"""


def test_tuning_commands(work: Path) -> None:
    """docs/SCALING.md's and NOTEBOOKS 3's ``rlrt tune`` on a tuning.yaml (the user's file; here the notebook's ranges
    on one tiny job: a tuning job's stops are in its file)."""
    (work / "tuning.yaml").write_text(TUNING_YAML)
    for cmd, out in ((TUNE_OUTPUT, work / "tune-hopper"), (TUNE, None)):
        shown = run_doc(cmd, work)
        found = out or Path(re.search(r"results table in (\S+)", shown).group(1)).parent
        best = json.loads((found / "best_hyperparameters.json").read_text())["tuned_hyperparameters"]
        assert 0.5 <= best["rl.training.config.kl_coeff"] <= 1.0 and 3 <= best["rl.training.config.num_sgd_iter"] <= 5
