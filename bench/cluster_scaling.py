"""Env-steps/s of one training job on 1, 2 and 3 hosts, the hosts being network namespaces on this machine.

Every host runs the container's own command (``python -m runtime.cli train``) with its own /opt/ml tree, exactly as
the multi-host tests do (tests/netns_hosts.py). The head advertises 2 CPUs (one kept for the learner), every other
host 1, so the job has 1, 2, 3 env runners. On one machine the hosts share its cores, so the curve shows the
overhead of the cluster (Ray processes per host, object transfers over veth), not a speed-up.

Throughput = env steps between the end of the first iteration and the end of the last, divided by the time between
them (progress.csv), so start-up and cluster formation are left out.

Needs root (network namespaces). Usage::

    python bench/cluster_scaling.py [--hosts 1 2 3] [--iterations 8] [--out bench/results/scaling.md]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import machine  # noqa: E402  (bench/ is the script's own folder: first on sys.path)
from tests.conftest import make_job_tree, run_rlrt  # noqa: E402
from tests.netns_hosts import netns_hosts, unavailable_reason  # noqa: E402

SETTINGS = {
    "rl.training.config.train_batch_size": 2000,
    "rl.training.config.sgd_minibatch_size": 500,
    "rl.training.config.num_sgd_iter": 1,
    "rl.training.config.num_envs_per_worker": 4,
    "rl.training.checkpoint_freq": 1000,
}


def throughput(progress: Path) -> tuple[float, int, float]:
    """(env steps/s after the first iteration, steps counted, seconds counted) from a progress.csv."""
    rows = list(csv.DictReader(progress.open()))
    first, last = rows[0], rows[-1]
    steps = int(last["timesteps_total"]) - int(first["timesteps_total"])
    seconds = float(last["time_total_s"]) - float(first["time_total_s"])
    return steps / seconds, steps, seconds


def run(hosts: int, iterations: int, root: Path, runners: int = 1) -> tuple[float, int, float, float]:
    """One job on ``hosts`` hosts (one host: ``runners`` env runners; more: one runner per host)."""
    hyperparameters = {**SETTINGS, "rl.training.stop.training_iteration": iterations}
    started = time.monotonic()
    if hosts == 1:
        tree = make_job_tree(root / "single", hyperparameters)
        done = run_rlrt(["train"], base=tree.base, timeout=900, SM_NUM_CPUS=str(runners + 1))
        if done.returncode != 0:
            raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
        progress = tree.base / "output" / "intermediate" / "progress.csv"
    else:
        with netns_hosts(root, hosts) as cluster:
            bases = {h: cluster.job_tree(h, hyperparameters) for h in cluster.hosts}
            for host in cluster.hosts:
                cluster.start(host, ["train"], cpus=2 if host == "algo-1" else 1)
            codes = cluster.wait_all(timeout=900)
            if set(codes.values()) != {0}:
                raise RuntimeError(f"{codes}\n{cluster.all_logs()}")
            progress = bases["algo-1"] / "output" / "intermediate" / "progress.csv"
    rate, steps, seconds = throughput(progress)
    return rate, steps, seconds, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scaling.md")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason and any(h > 1 for h in args.hosts):
        print(f"cannot make namespace hosts: {reason}", file=sys.stderr)
        return 2
    where = machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rlrt-scaling-") as tmp:
        # One host with as many runners as the largest cluster: the same processes without the cluster.
        cases = [(h, h) for h in args.hosts] + ([(1, max(args.hosts))] if max(args.hosts) > 1 else [])
        for hosts, runners in cases:
            rate, steps, seconds, wall = run(hosts, args.iterations, Path(tmp) / f"h{hosts}r{runners}", runners)
            rows.append((hosts, runners, rate, steps, seconds, wall))
            print(
                f"{hosts} host(s), {runners} env runner(s): {rate:.0f} env steps/s ({steps} steps in "
                f"{seconds:.1f} s; job wall time {wall:.0f} s)",
                flush=True,
            )
    lines = [
        "# Multi-host scaling on one machine (network-namespace hosts)",
        "",
        f"Machine: {where}. The cores were shared with other engineers' work while this ran, so the numbers are "
        "noisy; on one machine extra hosts add Ray processes and veth transfers but no cores: this measures the "
        "cluster's overhead, not a speed-up. The last row runs the largest cluster's runner count on one host "
        "(one Ray node, no namespaces): the difference to the cluster row is the cost of the cluster itself.",
        "",
        f"Command: `python bench/cluster_scaling.py --hosts {' '.join(map(str, args.hosts))} "
        f"--iterations {args.iterations}` (as root).",
        f"Job: CartPole-v1 PPO, {SETTINGS['rl.training.config.train_batch_size']} steps per iteration, "
        f"{SETTINGS['rl.training.config.num_envs_per_worker']} envs per runner, 1 SGD epoch, {args.iterations} "
        "iterations; throughput from progress.csv between the ends of the first and the last iteration.",
        "",
        "| hosts | env runners | env steps/s | steps counted | seconds counted | job wall time (s) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {h} | {r} | {rate:.0f} | {steps} | {seconds:.1f} | {wall:.0f} |"
            for h, r, rate, steps, seconds, wall in rows
        ],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
