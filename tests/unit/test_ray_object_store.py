"""Ray's object store where ``/dev/shm`` is small (a Docker container has 64 MB unless ``--shm-size`` says more): one
rlrt line with the docker flag instead of Ray's warning, and a store that fits what shared memory there is."""

from __future__ import annotations

import logging

import pytest

from runtime.backends.rllib.ray_process import init_ray, shutdown_ray
from runtime.cluster import object_store
from runtime.cluster.object_store import (
    DOCKER_SHM_ADVICE,
    RAY_OBJECT_STORE_MIN_BYTES,
    object_store_options,
    ray_start_flags,
)

GiB = 2**30
MiB = 2**20
DOCKER_DEFAULT_SHM = 64 * MiB


def test_a_shared_memory_that_holds_rays_default_store_changes_nothing() -> None:
    assert object_store_options(8 * GiB, 16 * GiB, "/tmp") == ({}, "")  # a host: /dev/shm is half the memory


def test_a_smaller_shared_memory_holds_a_store_of_its_size_without_a_word() -> None:
    options, advice = object_store_options(2 * GiB, 16 * GiB, "/tmp")  # `docker run --shm-size=2g` on 16 GiB
    assert options == {"object_store_memory": int(2 * GiB * 0.95)} and advice == ""
    options, _ = object_store_options(80 * MiB, 16 * GiB, "/tmp")
    assert options == {"object_store_memory": int(80 * MiB * 0.95)}
    assert options["object_store_memory"] >= RAY_OBJECT_STORE_MIN_BYTES


def test_dockers_default_shared_memory_keeps_the_store_in_the_temp_folder_with_one_line_of_advice() -> None:
    options, advice = object_store_options(DOCKER_DEFAULT_SHM, 16 * GiB, "/tmp/rlrt-ray")
    assert options == {"_plasma_directory": "/tmp/rlrt-ray"}
    assert advice.startswith("rlrt: /dev/shm has only 64 MiB free") and "/tmp/rlrt-ray" in advice
    assert f"docker run {DOCKER_SHM_ADVICE}" in advice and "\n" not in advice


def test_ray_start_takes_the_same_store_as_flags() -> None:
    """A multi-host job's `ray start` on each host (runtime.cluster.head / worker) gets the store as flags."""
    assert ray_start_flags({}) == []
    assert ray_start_flags(object_store_options(2 * GiB, 16 * GiB, "/tmp")[0]) == [
        f"--object-store-memory={int(2 * GiB * 0.95)}"
    ]
    assert ray_start_flags(object_store_options(DOCKER_DEFAULT_SHM, 16 * GiB, "/tmp/r")[0]) == [
        "--plasma-directory=/tmp/r"
    ]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("shm_bytes", [DOCKER_DEFAULT_SHM, 1 * GiB], ids=["docker-default-64MiB", "1GiB"])
def test_ray_starts_on_a_small_shared_memory_without_its_warning(
    shm_bytes: int, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A real job's Ray, with /dev/shm's free space as rlrt measures it set to a container's; what Ray's object-store
    code logs (at INFO and above, after rlrt's filters) is collected where it is written: in this process and in the
    output of the job's `ray start`."""
    import ray  # heavy: Ray
    import ray._private.utils

    monkeypatch.setattr(ray._private.utils, "get_shared_memory_bytes", lambda: shm_bytes)
    monkeypatch.setattr(object_store, "shared_memory_bytes", lambda: shm_bytes)
    services = logging.getLogger("ray._private.services")  # Ray's warning and its note on a named store folder
    records, level = _Records(), services.level
    services.setLevel(logging.INFO)  # setLevel, not the attribute: it also clears the loggers' isEnabledFor cache
    services.addHandler(records)
    assert not ray.is_initialized()
    local = None
    try:
        local = init_ray(1, 0)
        assert ray.is_initialized() and local is not None
        store = ray.cluster_resources()["object_store_memory"]
        node_output = local.log.read_text()
    finally:
        services.removeHandler(records)
        services.setLevel(level)
        shutdown_ray(local)
    printed = capfd.readouterr().out
    assert not any("object store" in m or "object_store" in m for m in records.messages), records.messages
    assert "/dev/shm" not in node_output, node_output  # Ray's warning: "The object store is using /tmp instead of ..."
    if shm_bytes == DOCKER_DEFAULT_SHM:
        assert printed.count(f"docker run {DOCKER_SHM_ADVICE}") == 1, printed
    else:
        assert "--shm-size" not in printed, printed
        assert store <= shm_bytes
