"""CPU counts checked against this host: SM_NUM_CPUS (per host) over the host's CPUs is refused naming the variable,
its value and the host's count; without it a job counts what it may use (affinity, a cgroup quota)."""

from __future__ import annotations

import io
import os
import sys
import types
from pathlib import Path

import pytest

from runtime.backends.rllib.cpus import env_runners_that_fit
from runtime.errors import UserError
from runtime.job.cpus import cgroup_cpu_limit, check_host_cpus, host_cpus, usable_cpus
from runtime.job.environment import load_environment
from runtime.tuning import parse_tuning_spec
from runtime.tuning.runner import cpus_for_trials
from tests.conftest import make_job_tree
from tests.unit.test_tuning import _spec


def test_a_count_over_the_hosts_cpus_is_refused_naming_the_variable_value_and_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = make_job_tree(tmp_path / "ml")
    monkeypatch.setenv("SM_NUM_CPUS", "1000000")
    with pytest.raises(UserError) as refused:
        load_environment(tree.base)
    message = str(refused.value)
    assert message.startswith(
        "The environment variable SM_NUM_CPUS=1000000 asks for more CPUs than this host has: "
        f"{host_cpus()} CPUs ({usable_cpus()} usable by this process)."
    )
    assert f"set it to at most {host_cpus()}" in message
    monkeypatch.setenv("SM_NUM_CPUS", str(host_cpus()))  # the host's own count, as sagemaker-training sets it
    assert load_environment(tree.base).num_cpus == host_cpus()


def test_a_multi_host_jobs_per_host_count_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_job_tree(tmp_path / "ml", hosts=("algo-1", "algo-2", "algo-3"))
    monkeypatch.setenv("SM_NUM_CPUS", str(host_cpus()))  # three hosts: Ray adds them up, not SM_NUM_CPUS
    assert load_environment(tree.base).num_cpus == host_cpus()
    assert check_host_cpus("SM_NUM_CPUS", 1) == 1


def test_without_sm_num_cpus_a_job_counts_what_it_may_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_job_tree(tmp_path / "ml")
    monkeypatch.delenv("SM_NUM_CPUS", raising=False)
    assert load_environment(tree.base).num_cpus == usable_cpus() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # cgroup v2: docker run --cpus=1.5
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "400000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
        ({"cpu.max": "garbage"}, None),
    ],
)
def test_a_cgroup_quota_is_read(tmp_path: Path, files: dict[str, str], limit: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == limit
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert usable_cpus(tmp_path) == 1


class _Config:
    """What env_runners_that_fit reads and sets of an RLlib AlgorithmConfig."""

    def __init__(self, runners: int, per_runner: float) -> None:
        self.num_env_runners, self.num_cpus_per_env_runner = runners, per_runner

    def env_runners(self, num_env_runners: int) -> None:
        self.num_env_runners = num_env_runners


def test_an_env_runner_needing_more_cpus_than_ray_has_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ray = types.SimpleNamespace(cluster_resources=lambda: {"CPU": 2.0})
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    with pytest.raises(
        UserError,
        match=r"^rl.training.config.num_cpus_per_env_runner \(RLlib 1.x "
        r"num_cpus_per_worker\) is 1000, but Ray has 2 CPUs here: no env runner could "
        "ever start",
    ):
        env_runners_that_fit(_Config(1, 1000), False, io.StringIO())
    config, out = _Config(4, 1), io.StringIO()  # too many runners of a CPU each: capped with one line, as before
    env_runners_that_fit(config, False, out)
    assert config.num_env_runners == 1 and "4 env runners asked" in out.getvalue()


def test_tunes_cpus_per_job_over_the_host_is_refused_and_parallel_trials_fit_the_machine() -> None:
    with pytest.raises(UserError, match=rf"^cpus_per_job is {host_cpus() + 1}, but this host has {host_cpus()} CPUs"):
        cpus_for_trials(parse_tuning_spec(_spec(cpus_per_job=host_cpus() + 1)), io.StringIO())
    out = io.StringIO()
    assert cpus_for_trials(parse_tuning_spec(_spec(max_parallel_jobs=1)), out) == 1 and not out.getvalue()
    many = parse_tuning_spec(_spec(max_jobs=500, max_parallel_jobs=500))
    assert cpus_for_trials(many, out) == usable_cpus()
    assert out.getvalue() == (
        f"rlrt: max_parallel_jobs 500 x cpus_per_job 1 = 500 CPUs, but this machine has "
        f"{host_cpus()} CPUs ({usable_cpus()} usable by this process): running {usable_cpus()} "
        "trial(s) at a time\n"
    )
