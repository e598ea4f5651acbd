"""The folder one ``rlrt tune`` run writes into: its own, never one holding an earlier or a running run's results.

``rlrt train`` without ``--base-dir`` claims a new job tree per launch (:func:`runtime.job.tree.claim_tree`); a
tune without ``--output`` claims ``./rlrt-tune/<time>`` the same way (``-2``, ``-3``, ... when two start in the same
second). A tree named with ``--base-dir`` is resumed by ``rlrt train``, but a search is not resumed: a second run
starts its own trials and writes its own table and best result over the first's. So a named ``--output`` holding an
earlier run's results is refused, naming what is there, rather than overwritten or moved to a folder the user did
not name; one another run is writing into is refused by its lock (the kernel's ``flock``: free when that run dies).
Neither refusal writes into the folder's ``output/failure``, which belongs to the run that used it.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from runtime.errors import TreeBusy
from runtime.job.setup import pid_lock
from runtime.job.tree import claim_tree
from runtime.paths import make_folder
from runtime.tuning.results import BEST_JSON, RESULTS_CSV

DEFAULT_PARENT = Path("rlrt-tune")
LOCK_FILE = ".rlrt-tune.lock"
ROLE = "The tuning --output folder"


def default_folder() -> Path:
    """Where a run without ``--output`` goes, before it is claimed (the failure file of a run that fails first)."""
    return (DEFAULT_PARENT / time.strftime("%Y%m%d-%H%M%S")).resolve()


def earlier_results(folder: Path) -> list[str]:
    """What an earlier run left in ``folder``: its table, its best result, its trials' job trees or Ray's results (a
    run that failed before its first trial leaves only ``output/failure``, which a new run may replace)."""
    found = [name for name in (RESULTS_CSV, BEST_JSON) if (folder / name).exists()]
    for name in ("jobs", "ray_results"):
        try:
            if any((folder / name).iterdir()):
                found.append(f"{name}/")
        except OSError:  # absent, or not a folder
            pass
    return found


@contextmanager
def own_output(output: Path | None) -> Iterator[Path]:
    """The run's output folder, held (its lock) while the body runs: ``output`` when it holds no earlier results and
    no other run writes into it, else a :class:`TreeBusy` naming it; without ``output``, a new folder claimed under
    ``./rlrt-tune``."""
    if output is None:
        make_folder(DEFAULT_PARENT.resolve(), "The folder of the tuning runs")
        folder = claim_tree(DEFAULT_PARENT, time.strftime("%Y%m%d-%H%M%S"))
    else:
        folder = make_folder(output, ROLE)  # before Ray starts: a folder it cannot write fails now

    def busy(holder: bytes) -> TreeBusy:
        pid = holder.decode(errors="replace").strip() or "unknown"
        return TreeBusy(
            f"Another rlrt tune (pid {pid}) is writing into the --output folder {folder}: two runs there "
            "would overwrite each other's results. Pass another --output, or wait for that run to end."
        )

    with pid_lock(folder / LOCK_FILE, busy):
        found = earlier_results(folder)
        if found:
            raise TreeBusy(
                f"The --output folder {folder} holds an earlier tuning run's results "
                f"({', '.join(found)}): this run would overwrite its table and best result. Pass another "
                f"--output (without one, each run gets its own folder under ./{DEFAULT_PARENT}), or "
                f"remove {folder} first."
            )
        yield folder
