"""A job's log holds only rlrt's lines: the allow-list the job tests apply (tests/quiet_logs.py), rlrt's log format,
native output filtered at its file descriptor, and sagemaker-training's lines made rlrt's."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from runtime.log_lines import RlrtFormatter
from runtime.toolkit import ToolkitFormatter, ToolkitLines
from tests.conftest import REPO_ROOT
from tests.quiet_logs import unexpected_lines

OWN = """rlrt: training PPO on CartPole-v1 (preset cartpole-ppo); stop when training_iteration >= 1
episode_reward_mean: 21.2125
ope_fqe: -1.5e-05
Training> Name=main_level/agent, Worker=0, Episode=80, Total reward=21.21, Steps=2065, Training iteration=1
Policy training> Surrogate loss=-0.279545, KL divergence=0.000296232, Entropy=1.60642, training epoch=0
Episode reward: 2.5237426798321785. Episode steps: 150
\x1b[36m(SingleAgentEnvRunner pid=7521)\x1b[0m rlrt: a line of rlrt's from an env runner
collect: 100%|██████████| 20/20 [00:00<00:00, 3025.87episode/s]
trial     rl.training.config.lr  episode_reward_mean  iterations  status
7e3f744e  0.00125207             26.6                 2           completed

rlrt: outputs:
  model (checkpoint, config, metadata): /tmp/x/model
"""


def test_rlrts_own_lines_pass() -> None:
    assert unexpected_lines(OWN) == []
    assert unexpected_lines("rlrt-timing: ray init 1.25", timings=True) == []


@pytest.mark.parametrize(
    "noise",
    [
        "2026-11-25 04:23:46,838\tINFO worker.py:2038 -- Started a local Ray instance.",
        "argv[0]=",
        "pybullet build time: Jan 29 2025 23:17:20",
        "\x1b[36m(SingleAgentEnvRunner pid=7521)\x1b[0m argv[0]=",
        "[2026-11-25 04:25:30,601 E 3741 3741] core_worker.cc:2465: Actor with class name: 'SingleAgentEnvRunner' ...",
        "2026-11-25 04:31:44,163 WARNING runtime.config.hyperparameters: the preset's settings do not apply",
        "[INFO] Connected new brain: Basic?team=0",
        "error: XDG_RUNTIME_DIR is invalid or not set in the environment.",
        "tuning:   0%|          | 0/2 [00:00<?, ?job/s]You have specified `max_concurrent_trials=1`",
        "episode_reward_mean: nan",
        "rlrt-timing: ray init 1.25",  # only when the job ran with RLRT_TIMINGS=1
        "Training> \x1b[33mcoloured\x1b[0m",
    ],
)
def test_any_other_line_is_unexpected(noise: str) -> None:
    assert unexpected_lines(f"rlrt: before\n{noise}\nrlrt: after\n") == [noise]


def test_an_indented_line_continues_only_an_rlrt_line() -> None:
    traceback = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nValueError: no'
    assert unexpected_lines(traceback) == traceback.splitlines()


def test_rlrts_loggers_write_rlrt_lines_and_others_keep_their_format() -> None:
    formatter = RlrtFormatter()

    def line(name: str, level: int, message: str) -> str:
        return formatter.format(logging.LogRecord(name, level, __file__, 1, message, None, None))

    assert line("runtime.config.hyperparameters", logging.WARNING, "not used") == "rlrt: not used"
    assert line("envs.unity.session", logging.INFO, "player started") == "rlrt: player started"
    assert line("sagemaker_rl.ray_launcher", logging.ERROR, "failed") == "rlrt: error: failed"
    assert line("runtimes", logging.WARNING, "x").endswith(" WARNING runtimes: x")  # not ours: its own format


def toolkit_line(message: str, level: int = logging.INFO) -> str | None:
    record = logging.LogRecord("sagemaker-training-toolkit", level, __file__, 1, message, None, None)
    return ToolkitFormatter().format(record) if ToolkitLines().filter(record) else None


def test_sagemaker_trainings_own_lines_are_left_out_or_made_rlrts() -> None:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # the toolkit's default (sagemaker_container_log_level 20)
    try:
        assert toolkit_line("No GPUs detected (normal if no gpus installed)") is None
        assert toolkit_line("Reporting training SUCCESS") is None
        invocation = (
            "Invoking user script\n\nTraining Env:\n\n{}\n\nEnvironment variables:\n\nSM_HOSTS=[]\n\n"
            "Invoking script with the following command:\n\n/usr/bin/python train.py --lr 0.1\n\n"
        )
        assert toolkit_line(invocation) == "rlrt: running the entry point: /usr/bin/python train.py --lr 0.1"
        assert toolkit_line("Installing dependencies from requirements.txt") == (
            "rlrt: installing the source dir's requirements.txt (pip)"
        )
        failure = toolkit_line("Reporting training FAILURE", logging.ERROR)
        assert failure is not None and failure.endswith("ERROR    Reporting training FAILURE")
        root.setLevel(logging.DEBUG)  # the job asked for every line (container_log_level=DEBUG)
        assert toolkit_line("No GPUs detected (normal if no gpus installed)") is not None
    finally:
        root.setLevel(level)


NATIVE = """
import ctypes, re, sys
from envs.native_output import without_native_lines
libc = ctypes.CDLL(None)
with without_native_lines(re.compile(rb"^(argv\\[0\\]=|build time)")):
    libc.printf(b"argv[0]=\\n")
    libc.printf(b"kept from C\\n")
    libc.dprintf(2, b"build time: today\\n")
    print("kept from Python", flush=True)
    print("kept on stderr", file=sys.stderr, flush=True)
libc.printf(b"argv[0]= after the block\\n")
libc.fflush(None)
"""


def test_native_output_is_filtered_at_its_file_descriptor() -> None:
    done = subprocess.run([sys.executable, "-c", NATIVE], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["kept from C", "kept from Python", "argv[0]= after the block"]
    assert done.stderr.splitlines() == ["kept on stderr"]


def test_a_pybullet_environment_is_made_and_reset_without_its_native_lines() -> None:
    script = (
        "from envs.registry import make_env\nenv = make_env('ReacherBulletEnv-v0')\nenv.reset(seed=0)\n"
        "env.reset()\nprint('reset', flush=True)\nenv = make_env('CartPole-v0')\nenv.reset(seed=0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("reset\n", "")


LAUNCHER_PROCESS = """
import logging
from runtime.log_lines import configure_logging
logging.basicConfig(level=logging.INFO, format="script %(levelname)s %(message)s")  # the user's script's own
configure_logging(others=False)  # what SageMakerRayLauncher.launch does
logging.getLogger("my_script").info("the script's own line")
logging.getLogger("runtime.config.hyperparameters").warning("not used")
"""


def test_in_a_launcher_scripts_process_only_rlrts_loggers_are_set_up() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER_PROCESS], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["script INFO the script's own line", "rlrt: not used"]
