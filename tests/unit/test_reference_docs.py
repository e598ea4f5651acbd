"""The site's generated reference pages (docs/reference/) are what scripts/reference_docs.py writes from the code now:
the command line, the hyperparameter keys with their checks, the presets cannot drift from the code."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT


def _script():
    spec = importlib.util.spec_from_file_location("reference_docs", REPO_ROOT / "scripts" / "reference_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


@pytest.mark.parametrize("name", sorted(SCRIPT.PAGES))
def test_committed_reference_page_is_what_the_code_generates(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    page = REPO_ROOT / "docs" / "reference" / name
    assert page.exists(), f"docs/reference/{name} is missing: run `{SCRIPT.COMMAND}` and commit it"
    assert page.read_text(encoding="utf-8") == SCRIPT.PAGES[name](), (
        f"docs/reference/{name} differs from what the code generates now: run `{SCRIPT.COMMAND}` and commit it"
    )


def test_every_reference_page_is_in_the_site_nav():
    nav = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for name in SCRIPT.PAGES:
        assert f"reference/{name}" in nav, f"mkdocs.yml's nav does not list reference/{name}"


def test_the_check_mode_names_a_stale_page_and_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(SCRIPT, "OUT", tmp_path)
    monkeypatch.setattr(SCRIPT, "ROOT", tmp_path.parent)
    (tmp_path / "presets.md").write_text("# stale\n", encoding="utf-8")
    assert SCRIPT.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path.name}/presets.md" in err and SCRIPT.COMMAND in err
    assert (tmp_path / "presets.md").read_text(encoding="utf-8") == "# stale\n"  # --check writes nothing
