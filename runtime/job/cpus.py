"""This host's CPUs, and a CPU count asked of it that cannot be true.

``SM_NUM_CPUS`` is per host: SageMaker sets it to the instance's count, and a multi-host job's Ray cluster adds the
hosts up itself (``runtime.cluster``). So it is checked against this host alone: a count over the CPUs this host has
(``os.cpu_count()``) cannot be true of it, and Ray, told it, would start that many workers (an env runner each) for
minutes before anything is printed. A count over what this process may use (its CPU affinity, a cgroup quota such
as ``docker run --cpus``) but within the host is taken as given: sagemaker-training itself counts the host's CPUs
(``multiprocessing.cpu_count``), whatever a container's quota. Without ``SM_NUM_CPUS`` a job uses what it may use.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from runtime.errors import UserError

CGROUP_ROOT = Path("/sys/fs/cgroup")


def host_cpus() -> int:
    """The CPUs this host has (online, whatever this process may use)."""
    return os.cpu_count() or 1


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> int | None:
    """The CPUs a cgroup quota allows this process (``cpu.max`` of cgroup v2, ``cpu.cfs_quota_us`` of v1), rounded
    up; None without a quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return max(1, math.ceil(quota_us / period_us)) if quota_us > 0 and period_us > 0 else None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """The CPUs this process may use: its affinity, within a cgroup quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        count = host_cpus()
    limit = cgroup_cpu_limit(root)
    return max(1, min(count, limit) if limit else count)


def machine_line() -> str:
    """This host's CPUs in words, for a message: ``2 CPUs (2 usable by this process)``."""
    return f"{host_cpus()} CPUs ({usable_cpus()} usable by this process)"


def check_host_cpus(variable: str, value: int) -> int:
    """``value``, the per-host CPU count ``variable`` gives, when this host has that many CPUs; else a
    :class:`UserError` naming the variable, its value and the host's count."""
    if value > host_cpus():
        raise UserError(
            f"The environment variable {variable}={value} asks for more CPUs than this host has: "
            f"{machine_line()}. {variable} counts the CPUs of one host (SageMaker sets it to the "
            "instance's count; a multi-host job's hosts are added up by its Ray cluster): unset it, or "
            f"set it to at most {host_cpus()}."
        )
    return value
