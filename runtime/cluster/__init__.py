"""Multi-host jobs: form one Ray cluster across the job's hosts (``resourceconfig.json``), with no S3 handshake.

The first host in sorted order is the head. It starts ``ray start --head`` (bound to the address its host name
resolves to), waits until every other host has joined, trains as the Ray driver, and stops the cluster when
training ends. Every other host resolves the head's name (retrying while DNS and the network come up), joins
with ``ray start --address``, stays until the head goes away, then exits 0.

Resources: the head advertises one CPU less than it has (that CPU runs the driver and the learner, which hold no
Ray resources), the other hosts all of theirs; the env-runner count defaults to the CPUs Ray sees in the whole
cluster, so env runners spread over every host and one CPU stays with the learner.

Heterogeneous clusters (the old SageMaker RL ``rl_cluster_type`` hyperparameters), for two training jobs in one
network (a VPC subnet), e.g. a GPU job for the learner and a CPU job for the env runners:

- ``rl_cluster_type=local`` (the default): one job, one cluster over its hosts.
- ``rl_cluster_type=primary`` with ``rl_num_instances_secondary=K``: this job's head also waits for K nodes of a
  secondary job before training. The head's address is printed and written to
  ``output/intermediate/ray_head_address`` (uploaded to S3 during the run) for the secondary job to use.
- ``rl_cluster_type=secondary`` with ``rl_primary_address=HOST[:PORT]``: every host of this job joins the
  primary's head as a worker node and exits 0 when the primary's training ends; this job trains nothing itself.

A single-host job starts its own one-node Ray (``ray start --head`` through :class:`~runtime.cluster.node.RayNode`:
the RLlib backend's ``LocalRay``), which no other host joins.

Settings (environment variables): ``RLRT_CLUSTER_TIMEOUT_S`` (default 600: how long the head waits for the hosts
and a worker for the head), ``RLRT_RAY_PORT`` (default 6379), ``RLRT_RAY_TEMP_DIR`` (Ray's temporary folder on
this host; useful when several "hosts" share one file system, as in the tests), ``RLRT_RAY_AUTH_TOKEN`` (a secret
shared by all hosts turns on Ray's token authentication; without it the cluster runs with RAY_AUTH_MODE=disabled).

The package: :mod:`~runtime.cluster.plan` (this host's role), :mod:`~runtime.cluster.node` (its ``ray start``
process and the network helpers), :mod:`~runtime.cluster.head` (the head and the driver's env-runner placement) and
:mod:`~runtime.cluster.worker` (a worker host).
"""

from runtime.cluster.head import _missing, env_runner_hosts, head_cluster, healthy_env_runners
from runtime.cluster.node import RayNode, port_open, ray_auth_environment, resolve_host
from runtime.cluster.plan import CLUSTER_TYPES, ClusterInfo, ClusterPlan, describe_plan, plan_cluster
from runtime.cluster.worker import run_worker

__all__ = [
    "CLUSTER_TYPES",
    "ClusterInfo",
    "ClusterPlan",
    "RayNode",
    "_missing",
    "describe_plan",
    "env_runner_hosts",
    "healthy_env_runners",
    "head_cluster",
    "plan_cluster",
    "port_open",
    "ray_auth_environment",
    "resolve_host",
    "run_worker",
]
