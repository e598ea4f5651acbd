"""Python's cyclic garbage collector during a job's start-up.

Importing RLlib (torch, Ray Tune, pandas) and, on the first optimizer, ``torch._dynamo`` creates ~770,000 objects that
live as long as the process. While they are created, the collector's full collections rescan all of them again and
again (7 full collections in RLlib's import): ~30 % of the import time (on the 2-core build machine
``import ray.rllib.algorithms.ppo`` 1.8 -> 1.3 s, ``import torch._dynamo`` 0.96 -> 0.55 s; bench/results/history.md).

:func:`start_up` holds back the full collections only: the young generations are still collected, so the cyclic
garbage of the imports is freed as usual (~350 objects are left for later, against ~18,000 with the collector off).
At its end everything alive is frozen (``gc.freeze``: the documented way to keep long-lived objects out of later
collections), so the training loop's full collections no longer rescan the libraries either.

At exit it is all unfrozen again (``gc.unfreeze``, an exit handler): frozen
objects are never collected, not even by the interpreter's teardown, and among them is the user's code of the
process (a launcher script's module: its functions and globals form a cycle). A file that code left open was then
never flushed (20 bytes written, 0 kept). The teardown's collections free the libraries' ~1M objects too:
~1.5 CPU-seconds more on the 2-core machine (bench/results/history.md), the price of a process whose user code ends as
Python promises.
"""

from __future__ import annotations

import atexit
import gc
from contextlib import contextmanager
from typing import Iterator

# gc's third threshold: how many young-generation collections trigger a full one; this many never do.
NO_FULL_COLLECTIONS = 1 << 30


@contextmanager
def start_up() -> Iterator[None]:
    """Hold back full collections while the block imports and builds the job's libraries, then freeze what it made.

    Nothing changes where the collector is off or already holding them back (a user's script that set gc up itself,
    or a block inside another)."""
    first, second, full = gc.get_threshold()
    if not gc.isenabled() or full >= NO_FULL_COLLECTIONS:
        yield
        return
    gc.set_threshold(first, second, NO_FULL_COLLECTIONS)
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(first, second, full)
        atexit.unregister(gc.unfreeze)  # once, however many blocks ran
        atexit.register(gc.unfreeze)
