"""Python's garbage collector during a job's start-up (runtime.collector.start_up): no full collection inside the
block while young garbage is still freed; afterwards the collector is as it was and what the block made is frozen,
until the process exits (then a script's file left open, frozen with it, is flushed)."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path
from typing import Iterator

import pytest
from conftest import rlrt_env

from runtime.collector import NO_FULL_COLLECTIONS, start_up


class Node:
    """A container object that can sit in a reference cycle and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycles(count: int) -> list[Node]:
    """``count`` two-node cycles, kept alive by the returned list (like modules' objects during an import)."""
    kept = []
    for _ in range(count):
        a, b = Node(), Node()
        a.other, b.other = b, a
        kept.append(a)
    return kept


def full_collections() -> int:
    return gc.get_stats()[2]["collections"]


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.enable()
    gc.set_threshold(700, 10, 10)  # CPython's defaults, whatever the test process set
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


def test_no_full_collection_inside_while_young_cycles_are_freed() -> None:
    before = full_collections()
    with start_up():
        kept = cycles(100_000)  # without the block: several full collections (checked below)
        a, b = Node(), Node()
        a.other, b.other = b, a
        garbage = weakref.ref(a)
        del a, b
        cycles(10_000)  # enough allocations for young collections to find the dropped cycle
        assert full_collections() == before
        assert garbage() is None, "a young cycle dropped inside the block was not freed"
    del kept
    with_full = full_collections()
    outside = cycles(100_000)
    assert outside and full_collections() > with_full, (
        "the same allocations outside the block run no full collection: this test shows nothing"
    )


def test_after_the_block_thresholds_are_back_and_what_it_made_is_frozen() -> None:
    with start_up():
        assert gc.get_threshold() == (700, 10, NO_FULL_COLLECTIONS)
        kept = cycles(1000)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.isenabled()
    assert gc.get_freeze_count() >= 2 * len(kept)
    assert all(id(node) not in {id(o) for o in gc.get_objects(generation=2)} for node in kept[:10])


def test_an_error_inside_still_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), start_up():
        raise RuntimeError("the spec was rejected")
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.isenabled()


@pytest.mark.parametrize("setting", ["disabled", "already held back"])
def test_a_collector_set_up_by_someone_else_is_left_alone(setting: str) -> None:
    if setting == "disabled":
        gc.disable()
    else:
        gc.set_threshold(700, 10, NO_FULL_COLLECTIONS)
    state = gc.isenabled(), gc.get_threshold()
    with start_up():
        assert (gc.isenabled(), gc.get_threshold()) == state
        cycles(100)
    assert (gc.isenabled(), gc.get_threshold()) == state
    assert gc.get_freeze_count() == 0, "a block that held nothing back froze objects"


SCRIPT = textwrap.dedent("""
    import sys

    from runtime.collector import start_up

    log = open(sys.argv[1], "w")
    log.write("20 bytes, unclosed.\\n")


    def main():  # a function of the script: its globals and it form a cycle, which only a collection frees
        with start_up():
            pass


    main()
""")


def test_a_scripts_file_left_open_is_flushed_at_exit(tmp_path: Path) -> None:
    """What the block froze is unfrozen at exit: the interpreter's teardown collects the script's module (a cycle),
    so the file it left open is flushed and closed (frozen, it was never collected: 0 bytes kept)."""
    log = tmp_path / "user.log"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log)], env=rlrt_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "20 bytes, unclosed.\n"
