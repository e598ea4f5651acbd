"""Multi-host jobs: a real Ray cluster over network-namespace "hosts" on this machine, and the cluster plan.

Each host runs the container's own command (``python -m runtime.cli train``) in its namespace with its own
``/opt/ml`` tree and ``resourceconfig.json``, as SageMaker runs one container per instance.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from types import MappingProxyType

import pytest

from runtime import cluster
from runtime.errors import UserError
from runtime.job.environment import JobEnvironment
from tests import netns_hosts
from tests.conftest import make_job_tree, run_rlrt, session_processes

TINY = {
    "rl.training.stop.training_iteration": 2,
    "rl.training.config.train_batch_size": 200,
    "rl.training.config.sgd_minibatch_size": 100,
    "rl.training.config.num_sgd_iter": 1,
    "rl.training.config.num_envs_per_worker": 1,
}

_REASON = netns_hosts.unavailable_reason()
needs_netns = pytest.mark.skipif(_REASON is not None, reason=f"multi-host test skipped: {_REASON}")


def _env(hosts: tuple[str, ...], current: str, **hyperparameters: object) -> JobEnvironment:
    return JobEnvironment(
        base_dir=Path("/nonexistent"),
        hyperparameters=MappingProxyType(dict(hyperparameters)),
        current_host=current,
        hosts=hosts,
        num_cpus=2,
        num_gpus=0,
    )


# --- the plan (no processes) ----------------------------------------------------------------------------------


def test_a_single_host_job_is_not_multi_node() -> None:
    plan = cluster.plan_cluster(_env(("algo-1",), "algo-1"))
    assert not plan.multi_node and plan.is_head


def test_the_first_sorted_host_is_the_head() -> None:
    plan = cluster.plan_cluster(_env(("algo-2", "algo-10", "algo-1"), "algo-2"))
    assert plan.multi_node and plan.head_host == "algo-1" and not plan.is_head and plan.expected_nodes == 3


def test_primary_waits_for_secondary_instances_and_secondary_joins_the_given_head() -> None:
    primary = cluster.plan_cluster(_env(("algo-1",), "algo-1", rl_cluster_type="primary", rl_num_instances_secondary=2))
    assert primary.is_head and primary.multi_node and primary.expected_nodes == 3
    assert cluster._missing(primary, {"algo-1": 1, "secondary/algo-1": 1}) == ["1 of 2 secondary-job instances"]
    secondary = cluster.plan_cluster(
        _env(("algo-1", "algo-2"), "algo-1", rl_cluster_type="secondary", rl_primary_address="10.0.0.5:6380")
    )
    assert not secondary.is_head and secondary.head_host == "10.0.0.5" and secondary.port == 6380
    assert secondary.node_name == "secondary/algo-1"


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"rl_cluster_type": "hetero"}, "'rl_cluster_type' must be one of local, primary, secondary"),
        ({"rl_num_instances_secondary": 2}, "needs 'rl_cluster_type=primary'"),
        ({"rl_cluster_type": "secondary"}, "needs 'rl_primary_address'"),
        ({"rl_cluster_type": "secondary", "rl_primary_address": "algo-1:port"}, "HOST or HOST:PORT"),
        ({"rl_primary_address": "algo-1"}, "only for 'rl_cluster_type=secondary'"),
    ],
)
def test_bad_cluster_hyperparameters_are_user_errors(hyperparameters: dict, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        cluster.plan_cluster(_env(("algo-1", "algo-2"), "algo-1", **hyperparameters))


def test_bad_cluster_type_fails_the_job_through_the_failure_file(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {**TINY, "rl_cluster_type": "hetero"}, hosts=("algo-1", "algo-2"))
    run = run_rlrt(["train"], base=tree.base)
    assert run.returncode == 2
    assert "'rl_cluster_type' must be one of local, primary, secondary" in tree.failure.read_text()


def test_current_host_must_be_among_the_hosts() -> None:
    with pytest.raises(UserError, match="current_host 'algo-9' is not among hosts"):
        cluster.plan_cluster(_env(("algo-1", "algo-2"), "algo-9"))


# --- real hosts in network namespaces -------------------------------------------------------------------------


def _metadata(base: Path) -> dict:
    return json.loads((base / "model" / "metadata.json").read_text())


@pytest.mark.slow
@needs_netns
def test_two_hosts_and_a_secondary_job_form_one_cluster_and_train(tmp_path: Path) -> None:
    """A two-instance primary job (algo-1, algo-2) and a one-instance secondary job (its own algo-1, in a third
    namespace, as another SageMaker job in the same network) form one cluster; env runners run on every host."""
    with netns_hosts.netns_hosts(tmp_path, 3) as hosts:
        primary = {"rl_cluster_type": "primary", "rl_num_instances_secondary": 1}
        bases = {
            h: make_job_tree(
                tmp_path / h / "opt" / "ml", {**TINY, **primary}, hosts=("algo-1", "algo-2"), current_host=h
            ).base
            for h in ("algo-1", "algo-2")
        }
        secondary = make_job_tree(
            tmp_path / "algo-3" / "opt" / "ml",
            {**TINY, "rl_cluster_type": "secondary", "rl_primary_address": "10.213.7.1"},
        ).base
        # The secondary job's own DNS: its algo-1 is itself.
        (netns_hosts.NETNS_ETC / hosts.namespaces["algo-3"] / "hosts").write_text(
            "127.0.0.1 localhost\n10.213.7.3 algo-1\n"
        )
        # Workers first: they wait (resolving, retrying) until the head is up, as on SageMaker.
        hosts.start("algo-3", ["train"], cpus=1)
        hosts.start("algo-2", ["train"], cpus=1)
        hosts.start("algo-1", ["train"], cpus=2)
        codes = hosts.wait_all(timeout=240)
        assert codes == {"algo-1": 0, "algo-2": 0, "algo-3": 0}, hosts.all_logs()
        head = hosts.log("algo-1")
        assert (
            "Ray cluster formed: 3 nodes (algo-1=10.213.7.1, algo-2=10.213.7.2, secondary/algo-1=10.213.7.3), "
            "3 CPUs for env runners"
        ) in head
        assert "training_iteration: 2" in head
        assert (
            bases["algo-1"] / "output" / "intermediate" / "ray_head_address"
        ).read_text().strip() == "10.213.7.1:6379"
        # Default sizing: the cluster's CPUs for env runners (the head kept one for the learner): one per host.
        placement = _metadata(bases["algo-1"])["training"]["cluster"]["env_runner_hosts"]
        assert placement == {"algo-1": 1, "algo-2": 1, "secondary/algo-1": 1}, hosts.all_logs()
        assert json.loads((bases["algo-1"] / "model" / "config.json").read_text())["config"]["num_env_runners"] == 3
        for host in ("algo-2", "algo-3"):
            assert "has gone (training ended)" in hosts.log(host)
        assert not (bases["algo-2"] / "model" / "metadata.json").exists()
        assert not (secondary / "model" / "metadata.json").exists()
        assert not any((base / "output" / "failure").exists() for base in (*bases.values(), secondary))
    assert hosts.leftovers() == []


@pytest.mark.slow
@needs_netns
def test_missing_hosts_fail_the_head_and_a_lonely_worker_by_name(tmp_path: Path) -> None:
    with netns_hosts.netns_hosts(tmp_path, 3) as hosts:
        head_tree = hosts.job_tree("algo-1", TINY)
        # At the same time, in another "job": algo-3 whose head algo-2 resolves but never starts.
        lonely = make_job_tree(
            tmp_path / "algo-3" / "opt" / "ml", TINY, hosts=("algo-2", "algo-3"), current_host="algo-3"
        ).base
        started = time.monotonic()
        hosts.start("algo-1", ["train"], cpus=2, RLRT_CLUSTER_TIMEOUT_S="20")
        hosts.start("algo-3", ["train"], cpus=1, RLRT_CLUSTER_TIMEOUT_S="4")
        assert hosts.wait_all(timeout=120) == {"algo-1": 2, "algo-3": 2}, hosts.all_logs()
        assert time.monotonic() - started < 100
        failure = (lonely / "output" / "failure").read_text()
        assert "algo-3 could not reach the Ray head algo-2 (10.213.7.2:6379) within 4 s" in failure
        failure = (head_tree / "output" / "failure").read_text()
        assert "The Ray cluster did not form within 20 s" in failure and "missing algo-2, algo-3" in failure
        assert not any(hosts.namespace_pids(h) for h in hosts.hosts), hosts.all_logs()
    assert hosts.leftovers() == []


LONG = {
    **TINY,
    "rl.training.stop.training_iteration": 100000,
    "rl.training.stop.time_total_s": 100000,
    "rl.training.stop.episode_reward_mean": 100000,
    "rl.training.checkpoint_freq": 1000,
}


def _wait_for(predicate, timeout: float, what: str, hosts: netns_hosts.NetnsHosts) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{hosts.all_logs()}"
        time.sleep(0.5)


@pytest.mark.slow
@needs_netns
def test_a_lost_worker_host_then_sigterm_on_the_head(tmp_path: Path) -> None:
    """Three hosts. algo-3 dies at once (every process killed, as a reclaimed spot instance): the head goes on with
    the other hosts' env runners. Then SIGTERM on the head (StopTrainingJob): it checkpoints, stops its Ray head,
    and the remaining worker host sees the head go and exits 0; nothing is left running."""
    hyperparameters = {**LONG, "rl.training.config.env_runner_health_probe_timeout_s": 5.0}
    with netns_hosts.netns_hosts(tmp_path, 3) as hosts:
        bases = {h: hosts.job_tree(h, hyperparameters) for h in hosts.hosts}
        head = hosts.start("algo-1", ["train"], cpus=2)
        hosts.start("algo-2", ["train"], cpus=1)
        hosts.start("algo-3", ["train"], cpus=1)
        _wait_for(lambda: "training_iteration: 2" in hosts.log("algo-1"), 240, "two iterations", hosts)
        assert 'env runners per host: {"algo-1": 1, "algo-2": 1, "algo-3": 1}' in hosts.log("algo-1")
        for pid in hosts.namespace_pids("algo-3"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        hosts.processes.pop("algo-3").wait(10)
        lost = time.monotonic()
        _wait_for(lambda: "2 of 3 env runners healthy" in hosts.log("algo-1"), 120, "the lost runner", hosts)
        at_loss = hosts.log("algo-1").count("training_iteration: ")
        _wait_for(
            lambda: hosts.log("algo-1").count("training_iteration: ") >= at_loss + 2,
            120,
            "two iterations without algo-3",
            hosts,
        )
        assert time.monotonic() - lost < 200
        head.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        codes = hosts.wait_all(timeout=90)
        assert codes == {"algo-1": 143, "algo-2": 0}, hosts.all_logs()
        assert time.monotonic() - sent < 60
        assert len(list((bases["algo-1"] / "checkpoints").glob("checkpoint_*"))) == 1
        assert "Ray head on algo-1 stopped" in hosts.log("algo-1")
        assert "has gone (training ended); algo-2 exits" in hosts.log("algo-2")
        assert not any(hosts.namespace_pids(h) for h in hosts.hosts), hosts.all_logs()
    assert hosts.leftovers() == []


# --- a cluster the job is told to join (RAY_ADDRESS) -----------------------------------------------------------


@pytest.mark.slow
def test_a_job_joins_the_cluster_ray_address_names_and_a_silent_address_fails_at_once(tmp_path: Path) -> None:
    """RAY_ADDRESS (KubeRay's ``auto``, ``ray job submit``, docs/SCALING.md): the job trains on that cluster instead
    of starting its own and leaves it running. An address where no cluster answers fails at once, naming it (Ray
    itself retries such an address for ~10 minutes)."""
    from runtime.cluster.node import RayNode, free_ports

    port = free_ports(1)[0]
    address = f"127.0.0.1:{port}"
    node = RayNode(["--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false"])
    try:
        assert node.wait_until_open("127.0.0.1", port, timeout_s=60) is None
        tree = make_job_tree(tmp_path / "joined" / "opt" / "ml", {"rl.training.stop.training_iteration": 1})
        joined = run_rlrt(["train"], base=tree.base, RAY_ADDRESS=address)
        assert joined.returncode == 0, joined.stdout[-3000:] + joined.stderr[-3000:]
        assert f"rlrt: training on the Ray cluster at {address} (RAY_ADDRESS)" in joined.stdout
        assert "training_iteration: 1" in joined.stdout
        assert node.exit_code() is None  # the cluster outlives the job
        assert session_processes(tree.base) == []
    finally:
        node.stop()
    # The same address once the cluster has gone.
    tree = make_job_tree(tmp_path / "gone" / "opt" / "ml", {"rl.training.stop.training_iteration": 1})
    gone = run_rlrt(["train"], base=tree.base, timeout=120, RAY_ADDRESS=address)
    assert gone.returncode == 2, gone.stdout[-3000:] + gone.stderr[-3000:]
    failure = tree.failure.read_text()
    assert f"RAY_ADDRESS={address} names a Ray cluster that does not answer" in failure, failure
    assert "Unset RAY_ADDRESS" in failure and "Traceback" not in gone.stderr
    assert session_processes(tree.base) == []
