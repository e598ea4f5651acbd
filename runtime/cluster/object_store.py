"""Ray's object store sized to the shared memory a machine (or a Docker container) has, for every Ray rlrt starts:
a job's own (``ray.init``), the trials' of ``rlrt tune``, and each host's ``ray start`` of a multi-host job.

Ray puts its object store in ``/dev/shm``; where that is smaller than Ray's default store, Ray moves the store to its
temporary folder and writes a warning with advice for a Ray cluster's config. Docker gives a container 64 MB of shared
memory unless ``docker run --shm-size`` says more, so every Ray in a default container got that warning.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import psutil


def ray_temp_root() -> str:
    """The folder Ray makes its ``ray/`` temporary tree in: ``RAY_TMPDIR``, else ``TMPDIR``'s (``/tmp``)."""
    return os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()


SHARED_MEMORY = "/dev/shm"
RAY_OBJECT_STORE_SHARE = 0.3
"""Ray's default object store: 30% of the node's available memory (``ray_constants``, 2.x), which is never more
than this share of the machine's whole memory."""
RAY_OBJECT_STORE_MIN_BYTES = 75 * 1024 * 1024
"""The smallest object store Ray starts (``ray_constants.OBJECT_STORE_MINIMUM_MEMORY_BYTES``)."""
SHM_HEADROOM = 0.95
"""The share of the free shared memory given to the object store (Ray's own cap leaves the same room)."""
DOCKER_SHM_ADVICE = "--shm-size=2g"
"""What docs/SAGEMAKER.md's docker commands pass (and this module's advice names): room for rlrt's object store."""


def shared_memory_bytes() -> int:
    """The free bytes of ``/dev/shm`` (what Ray measures: blocks available to an unprivileged process); 0 where
    there is none."""
    try:
        stats = os.statvfs(SHARED_MEMORY)
    except OSError:
        return 0
    return stats.f_bsize * stats.f_bavail


def object_store_options(shm_bytes: int, memory_bytes: int, temp_root: str) -> tuple[dict[str, Any], str]:
    """``ray.init`` arguments for the object store on a machine whose ``/dev/shm`` has ``shm_bytes`` free, and the
    one line to print about it ("" for none).

    Ray puts its object store (by default up to 30% of memory) in ``/dev/shm``; where that is smaller, Ray moves the
    store to its temporary folder and writes a warning with advice for a Ray cluster's config. A Docker container
    has 64 MB of shared memory unless ``docker run --shm-size`` says more, so every job in a default container got
    that warning. Instead: a ``/dev/shm`` smaller than Ray's default but big enough for Ray's smallest store holds a
    store of its size (an rlrt job's sample batches and weights fit; Ray spills to disk beyond it); a smaller one
    (Docker's 64 MB) gets the store in Ray's temporary folder, as Ray would, named explicitly (``_plasma_directory``,
    one of ``ray.init``'s documented hidden options) so that Ray does not warn, and one rlrt line with the docker flag.
    """
    if shm_bytes >= RAY_OBJECT_STORE_SHARE * memory_bytes:
        return {}, ""  # Ray's default store fits in /dev/shm
    usable = int(shm_bytes * SHM_HEADROOM)
    if usable >= RAY_OBJECT_STORE_MIN_BYTES:
        return {"object_store_memory": usable}, ""
    return (
        {"_plasma_directory": temp_root},
        f"rlrt: {SHARED_MEMORY} has only {shm_bytes // 2**20} MiB free, less than Ray's object store needs "
        f"({RAY_OBJECT_STORE_MIN_BYTES // 2**20} MiB at least), so the store is kept in {temp_root} (slower); "
        f"in Docker give the container more shared memory: `docker run {DOCKER_SHM_ADVICE} ...`",
    )


def object_store_for_this_machine() -> dict[str, Any]:
    """``ray.init``'s object-store arguments for this machine (:func:`object_store_options`), having printed the
    one line of advice where there is one."""
    store, advice = object_store_options(shared_memory_bytes(), psutil.virtual_memory().total, ray_temp_root())
    if advice:
        print(advice, flush=True)
    return store


def ray_start_flags(store: dict[str, Any]) -> list[str]:
    """The ``ray start`` flags that give a node the object store ``store`` (:func:`object_store_options`'s
    ``ray.init`` arguments) describes."""
    flags = {"object_store_memory": "--object-store-memory", "_plasma_directory": "--plasma-directory"}
    return [f"{flags[name]}={value}" for name, value in store.items()]
