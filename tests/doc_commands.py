"""The docs' commands: found in README.md and docs/*.md, and run as a reader runs them
(tests/jobs/test_doc_commands.py).

- :func:`doc_commands`: every command of a fenced shell block (in a fence with no language, the lines that start
  like a command: the docs mix commands and their output there), and every code span of docs/NOTEBOOKS.md's "local
  command" column, keyed by (doc, the command with whitespace collapsed and no comment);
- :func:`run_doc` / :func:`serving`: run one as written with bash (a server in the background until ``/ping``
  answers), with the pinned environment first on ``PATH``; :func:`tiny_tree`: a job tree whose
  ``hyperparameters.json`` holds the tiny stop, as runtime/pytest_plugin.py forces it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import REPO_ROOT, rlrt_env
from tests.jobs.test_serving_server import stop, wait_until_ready

Cmd = tuple[str, str]
"""A doc command: (the doc's path from the clone's root, the command with whitespace collapsed, no comment)."""

DOCS = ("README.md", *sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "docs").glob("*.md")))
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
COMMAND_WORDS = {
    "rlrt",
    "python",
    "python3",
    "curl",
    "docker",
    "mkdir",
    "cp",
    "ls",
    "echo",
    "export",
    "source",
    "bash",
    "tensorboard",
    "cd",
    "pip",
    "aws",
    "tar",
    "ray",
    "kubectl",
    "apt-get",
    "systemctl",
    "sudo",
    "dockerd",
}
"""In a fence with no language (docs mix commands and their output there), a line is a command when its first word,
after any ``VAR=value``, is one of these or a script of the clone."""
NOTEBOOKS = "docs/NOTEBOOKS.md"
LOCAL_COMMAND_COLUMN = "local command"
TINY_STOP = {"rl.training.stop.training_iteration": 1}
VENV_BIN = str(Path(sys.executable).parent)


def _strip_comment(line: str) -> str:
    """``line`` without a trailing shell comment (a ``#`` after whitespace, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def normalize(command: str) -> str:
    joined = re.sub(r"\\\n", " ", command)
    return " ".join(_strip_comment(" ".join(joined.split("\n"))).split())


def _first_word(line: str) -> str:
    words = line.split()
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", words[0]):
        words = words[1:]
    return words[0] if words else ""


def _is_command(line: str, shell_fence: bool) -> bool:
    if not line.strip() or line.lstrip().startswith("#"):
        return False
    if shell_fence:
        return True
    word = _first_word(line)
    return word in COMMAND_WORDS or word.startswith(("scripts/", "./scripts/", "$(", '"$('))


def _fenced(doc: str) -> Iterator[tuple[str, str]]:
    """(section heading, command as written) for each command in ``doc``'s fenced blocks."""
    section, fence, logical = "", None, ""
    for raw in (REPO_ROOT / doc).read_text().splitlines():
        if fence is None:
            if raw.startswith("#"):
                section = raw.lstrip("#").strip()
            match = re.match(r"^\s*```\s*(\S*)", raw)
            if match:
                fence = match.group(1).lower()
            continue
        if raw.strip().startswith("```"):
            fence = None
            continue
        logical = logical + raw
        if raw.endswith("\\"):
            logical += "\n"
            continue
        if fence in SHELL_LANGUAGES or fence == "":
            if _is_command(logical, fence in SHELL_LANGUAGES):
                yield section, logical
        logical = ""


def _table_cells(line: str) -> list[str]:
    cells, current, in_code = [], "", False
    for char in line.strip().strip("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(current.strip())
            current = ""
        else:
            current += char
    return [*cells, current.strip()]


def _notebook_cells() -> Iterator[tuple[str, str]]:
    """(section heading, code span) for each code span of NOTEBOOKS.md's "local command" column."""
    section, column = "", None
    for line in (REPO_ROOT / NOTEBOOKS).read_text().splitlines():
        if line.startswith("#"):
            section, column = line.lstrip("#").strip(), None
        if not line.startswith("|"):
            column = None
            continue
        cells = _table_cells(line)
        if column is None:
            column = cells.index(LOCAL_COMMAND_COLUMN) if LOCAL_COMMAND_COLUMN in cells else -1
            continue
        if column >= 0 and column < len(cells):
            for span in re.findall(r"`([^`]+)`", cells[column]):
                yield section, span


def doc_commands() -> dict[Cmd, tuple[str, str]]:
    """Every command of the docs: (doc, normalized command) -> (the command as written, its section)."""
    found: dict[Cmd, tuple[str, str]] = {}
    for doc in DOCS:
        for section, text in _fenced(doc):
            found.setdefault((doc, normalize(text)), (text, section))
    for section, text in _notebook_cells():
        found.setdefault((NOTEBOOKS, normalize(text)), (text, section))
    return found


DOC = doc_commands()


def c(doc: str, command: str) -> Cmd:
    return doc, normalize(command)


def doc_env(base: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment a doc command runs in: the test environment with the pinned environment's ``bin`` first on
    ``PATH`` (what the README's ``activate`` line gives a user); ``SAGEMAKER_BASE_DIR`` is ``base`` (or unset)."""
    env = rlrt_env(base, **extra)
    env["PATH"] = os.pathsep.join([VENV_BIN, env.get("PATH", "")])
    return env


def run_doc(
    cmd: Cmd, cwd: Path, env: dict[str, str] | None = None, text: str | None = None, timeout: float = 400
) -> str:
    """Run ``cmd`` (as the doc writes it, or ``text``: several doc lines of one block) with bash in ``cwd``; it must
    exit 0; returns its stdout and stderr."""
    script = text if text is not None else DOC[cmd][0]
    process = subprocess.Popen(
        ["bash", "-c", "set -eo pipefail\n" + script],
        cwd=str(cwd),
        env=env or doc_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the command and what it started (bash alone would leave them)
        output, _ = process.communicate()
        pytest.fail(f"{cmd[0]}: `{script}` did not end within {timeout:g} s:\n{output[-4000:]}")
    assert process.returncode == 0, f"{cmd[0]}: `{script}` exited {process.returncode}:\n{output[-4000:]}"
    return output


def with_port(cmd: Cmd, written: str, port: int) -> str:
    """The command as written with its one port (``written``) replaced by ``port`` (the only rewrite)."""
    text = DOC[cmd][0]
    assert text.count(written) == 1, (cmd, written)
    return text.replace(written, str(port))


@contextmanager
def serving(cmd: Cmd, cwd: Path, port: int, text: str | None = None, base: Path | None = None) -> Iterator[str]:
    """Start a server command in the background, wait for ``/ping``, yield its URL, stop it (its process group)."""
    log = cwd / f"serve-{port}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            ["bash", "-c", text if text is not None else DOC[cmd][0]],
            cwd=str(cwd),
            env=doc_env(base, SAGEMAKER_BIND_TO_PORT=str(port)),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log, timeout=120)
        yield url
    finally:
        stop(process)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def job_tree(base: Path, **hyperparameters: object) -> Path:
    """Write ``base/input/config/hyperparameters.json`` as SageMaker writes it (JSON-encoded values). No
    ``resourceconfig.json``: the job still treats the tree as its own local one."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
    return base


def tiny_tree(base: Path, **hyperparameters: object) -> Path:
    """A job tree whose hyperparameters hold the tiny stop (and ``hyperparameters``)."""
    return job_tree(base, **TINY_STOP, **hyperparameters)


def output_prefixes(block_marker: str, doc: str) -> list[str]:
    """The stable start of each line of the output block of ``doc`` that holds ``block_marker``: up to its first value
    (a number, a path, a list after ``": "`` or ``=``), which varies; ``...`` lines left out."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", (REPO_ROOT / doc).read_text(), re.S)
    block = next(b for b in blocks if block_marker in b)
    prefixes = []
    for line in block.splitlines():
        if not line.strip() or line.strip() == "...":
            continue
        value = re.search(r"(?:: |=)(?=[-+\d/.\[{])", line)
        prefixes.append(line[: value.end()] if value else line)
    return prefixes


def assert_shows(output: str, prefixes: list[str]) -> None:
    lines = output.splitlines()
    missing = [p for p in prefixes if not any(line.startswith(p) for line in lines)]
    assert not missing, f"lines the doc shows are missing: {missing}\n{output[-3000:]}"


def model_tarball(model: Path, target: Path) -> Path:
    """``model/`` packed as SageMaker packs ``model.tar.gz`` (its files at the root)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(model.iterdir()):
            tar.add(path, arcname=path.name)
    return target
