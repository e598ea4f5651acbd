"""A Unity game in the ``train`` channel that cannot start: it exits at once (a missing library), cannot be executed
at all (a build for another architecture) or never answers the handshake. Each ends the job as a user error (exit 2)
naming the game, its exit code or the wait that ran out, and the last lines it printed, which stay in
``output/intermediate/unity-<worker id>.log``; no player is left running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import make_job_tree, run_rlrt
from unity_player.build import make_player, running_players
from tests.unit.test_unity_training import TRAIN_UNITY, free_base_port

GAME = "basic_env_linux.x86_64"
MISSING_LIBRARY = (
    "./basic_env_linux.x86_64: error while loading shared libraries: libGLU.so.1: cannot open shared "
    "object file: No such file or directory"
)


def _tree(tmp_path: Path, **extra: object):
    return make_job_tree(
        tmp_path / "ml",
        {
            "rl.training.config.env_config.env_name": GAME,
            "rl.training.config.env_config.base_port": free_base_port(),
            "rl.training.stop.training_iteration": 1,
            **extra,
        },
    )


def _executable(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(0o755)
    return path


def _assert_user_error(result, tree, *words: str) -> str:
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    failure = tree.failure.read_text()
    assert f"Player: {tree.channel('train') / GAME}" in failure
    for word in words:
        assert word in failure, failure
    assert "Traceback" not in result.stderr and "Framework error" not in failure
    assert not running_players(tree.channel("train"), wait_s=5)
    return failure


def test_a_game_that_exits_at_start_names_its_exit_code_and_last_lines(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _executable(
        tree.channel("train") / GAME,
        f"#!/bin/sh\necho 'Loading player data'\necho '{MISSING_LIBRARY}' >&2\nexit 127\n".encode(),
    )
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=120)
    _assert_user_error(
        result, tree, "could not start", "return code 127", "Loading player data", MISSING_LIBRARY, "unity-0.log"
    )
    log = (tree.intermediate / "unity-0.log").read_text()
    assert "Loading player data" in log and MISSING_LIBRARY in log


def test_a_game_built_for_another_architecture(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    # An ELF header the kernel refuses (no valid program headers): execve fails with "Exec format error".
    _executable(tree.channel("train") / GAME, b"\x7fELF\x02\x01\x01" + os.urandom(32))
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=120)
    _assert_user_error(result, tree, "could not start", "cannot be executed", "Exec format error")


@pytest.mark.slow
def test_a_game_that_never_answers_is_named_after_a_bounded_wait(tmp_path: Path) -> None:
    tree = _tree(tmp_path, **{"rl.training.config.env_config.timeout_wait": 4})
    make_player(tree.channel("train"), GAME.removesuffix(".x86_64"), ["--startup-delay", "120"])
    result = run_rlrt(TRAIN_UNITY, base=tree.base, timeout=120)
    _assert_user_error(result, tree, "could not start", "UnityTimeOutException", "timeout_wait 4 s")
