"""One line length for code and prose: Markdown prose lines are at most 120 characters, as ruff holds the code to
(pyproject.toml's ``line-length``). Table rows and code blocks are left as they are (a row cannot wrap; a command
is copied whole), and so is a line that is a single unbreakable piece (a long code span or link with no space to
break at outside it)."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO_ROOT

WIDTH = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["line-length"]
PAGES = sorted(
    [REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md", REPO_ROOT / "bench" / "RESULTS.md"]
    + list((REPO_ROOT / "docs").rglob("*.md"))
)
CODE_SPAN = re.compile(r"(`+).*?\1")


def long_prose_lines(text: str) -> list[tuple[int, int]]:
    """(line number, length) of each prose line over WIDTH that has a space to break at outside its code spans."""
    found, code = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            code = not code
            continue
        if code or len(line) <= WIDTH or line.lstrip().startswith("|"):
            continue
        if " " in CODE_SPAN.sub("x", line.strip()):
            found.append((number, len(line)))
    return found


def test_markdown_prose_lines_fit_the_code_line_length() -> None:
    assert len(PAGES) > 15
    over = {
        str(page.relative_to(REPO_ROOT)): lines
        for page in PAGES
        if (lines := long_prose_lines(page.read_text(encoding="utf-8")))
    }
    assert not over, f"Markdown prose lines over {WIDTH} characters (line, length); rewrap them: {over}"


def test_tables_code_blocks_and_unbreakable_pieces_are_left_alone() -> None:
    long = "x " * WIDTH
    text = f"| {long} |\n```\n{long}\n```\n`{'y' * (WIDTH + 5)}`\n{long}\n"
    assert long_prose_lines(text) == [(6, len(long))]
