"""bench/RESULTS.md is generated from bench/results/results.json (``bench/results_table.py``): it is what the generator
writes from the file, it fits a screen, and every row links a write-up section that exists; a benchmark's
``common.record`` updates its own row and leaves the others."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCREEN_LINES = 40
ROW_CHARS = 260
"""A row's length as read in a terminal, the link's target left out."""


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    """bench/'s ``results_table`` and ``common``, imported as the benchmarks import them (their folder on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    for name in ("results_table", "common"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import common  # type: ignore[import-not-found]
    import results_table  # type: ignore[import-not-found]

    return results_table, common


def test_results_md_is_the_generators_output(bench: tuple[ModuleType, ModuleType]) -> None:
    results_table, _ = bench
    expected = results_table.render(results_table.read_rows())
    assert (BENCH / "RESULTS.md").read_text() == expected, (
        "bench/RESULTS.md is not what `python bench/results_table.py` writes from bench/results/results.json: "
        "edit the JSON (or rerun the benchmark), then run the generator"
    )


def test_the_table_fits_a_screen(bench: tuple[ModuleType, ModuleType]) -> None:
    lines = (BENCH / "RESULTS.md").read_text().splitlines()
    assert len(lines) <= SCREEN_LINES
    long = [line for line in lines if len(re.sub(r"\]\([^)]*\)", "]", line)) > ROW_CHARS]
    assert not long, long


def test_every_row_is_complete_and_links_a_write_up_that_exists(bench: tuple[ModuleType, ModuleType]) -> None:
    results_table, _ = bench
    rows = results_table.read_rows()
    assert len({row["key"] for row in rows}) == len(rows), "a key names two rows"
    for row in rows:
        assert list(row) == list(results_table.FIELDS) and all(row.values()), row
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row["date"]), row
        path, _, section = row["write_up"].partition("#")
        write_up = results_table.RESULTS / path
        assert write_up.is_file(), row
        if section:
            headings = [
                results_table.anchor(line.lstrip("#"))
                for line in write_up.read_text().splitlines()
                if line.startswith("#")
            ]
            assert section in headings, f"{row['key']}: no section {section!r} in {path}"


def test_record_updates_its_row_and_leaves_the_others(
    bench: tuple[ModuleType, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_table, common = bench
    other = {
        "key": "other",
        "figure": "another figure",
        "goal": ">= 1",
        "result": "2",
        "machine": "Some CPU, 8 cores",
        "load": "quiet",
        "date": "2026-01-02",
        "command": "python bench/other.py",
        "write_up": "other.md",
    }
    mine = {
        **other,
        "key": "mine/quiet",
        "figure": "my figure",
        "result": "0.5",
        "date": "2026-01-01",
        "command": "python bench/mine.py --old",
        "write_up": "mine.md#a-section",
    }
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"rows": [mine, other]}))
    table = tmp_path / "RESULTS.md"
    monkeypatch.setattr(sys, "argv", [str(BENCH / "mine.py"), "--rounds", "3", "--under-load"])

    common.record(
        "mine/quiet",
        "0.75 (rounds 0.7, 0.8)",
        "under load",
        results=results,
        table=table,
        figure="my figure, renamed",
        goal=">= 0.5",
        write_up="elsewhere.md",
    )
    common.record("new", "7 s", results=results, table=table, figure="a new figure", goal="<= 8 s", write_up="new.md")

    rows = results_table.read_rows(results)
    assert [row["key"] for row in rows] == ["mine/quiet", "other", "new"]
    assert rows[1] == other
    updated = rows[0]
    assert updated["result"] == "0.75 (rounds 0.7, 0.8)" and updated["load"] == "under load"
    assert updated["figure"] == "my figure, renamed" and updated["goal"] == ">= 0.5"
    assert updated["write_up"] == "mine.md#a-section", "a row keeps the section it links"
    assert updated["command"] == "python bench/mine.py --rounds 3 --under-load"
    assert updated["date"] != "2026-01-01" and re.fullmatch(r"\d{4}-\d\d-\d\d", updated["date"])
    assert updated["machine"] == common.short_machine() and updated["machine"].endswith(" cores")
    assert rows[2]["write_up"] == "new.md" and rows[2]["load"] == "quiet"
    assert table.read_text() == results_table.render(rows)
    with pytest.raises(AssertionError, match="give its"):
        common.record("newer", "1", results=results, table=table, figure="no goal")


def test_load_names_and_keys(bench: tuple[ModuleType, ModuleType]) -> None:
    _, common = bench
    assert (common.load_name(None), common.load_key(None)) == ("quiet", "quiet")
    assert (common.load_name(19), common.load_key(19)) == ("under load", "under-load")
    assert (common.load_name(0), common.load_key(0)) == ("under load at nice 0", "under-load-nice0")
