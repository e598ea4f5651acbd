"""docs/ARCHITECTURE.md names only code that exists: every source path the page writes (``runtime/train/job.py``,
``runtime/evaluate/{evaluator,loaders}.py``, ``runtime/commands/``) is a file or folder of the clone, and every
module of the packages whose floors it gives one by one (``runtime/*.py``, ``runtime/evaluate/``) is named there,
so a split or a rename that leaves the page behind fails here."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "ARCHITECTURE.md"
PATH = re.compile(r"`((?:runtime|envs|sagemaker_rl|entrypoints|presets|scripts|tests|bench)/[^`\s:]*)")
"""A source path at the start of a code span (what follows a colon, ``factory.py: INSTALLED``, is a name in it)."""


def expand(path: str) -> list[str]:
    """``runtime/{a,b}.py`` -> ``runtime/a.py``, ``runtime/b.py`` (one brace list, as the page writes them)."""
    match = re.search(r"\{([^}]*)\}", path)
    if match is None:
        return [path]
    return [path[: match.start()] + part + path[match.end() :] for part in match.group(1).split(",")]


def named_paths() -> set[str]:
    return {p.rstrip(".,;)") for span in PATH.findall(PAGE.read_text(encoding="utf-8")) for p in expand(span)}


def test_every_path_the_page_names_exists() -> None:
    named = named_paths()
    assert len(named) > 40, sorted(named)  # the pattern still reads the page
    missing = sorted(p for p in named if "<" not in p and "*" not in p and not (REPO_ROOT / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_module_the_floors_table_lists_one_by_one_is_on_the_page() -> None:
    named = named_paths()
    unnamed = []
    for package in ["runtime", "runtime/evaluate"]:  # the packages whose floors the page gives module by module
        for module in sorted((REPO_ROOT / package).glob("*.py")):
            relative = module.relative_to(REPO_ROOT).as_posix()
            if module.name != "__init__.py" and relative not in named:
                unnamed.append(relative)
    assert not unnamed, f"modules docs/ARCHITECTURE.md does not place on a floor: {unnamed}"
