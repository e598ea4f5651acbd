"""``ray start`` for a job's own one-machine Ray, without the two head services such a node never uses: the Ray
Client server (``ray://`` connections: the job joins through the GCS) and the autoscaler's monitor (nothing to scale;
``--no-monitor``, which :class:`runtime.cluster.node.RayNode` adds). On 2 cores the two take ~3.5 of the ~12
CPU-seconds Ray's start costs, while the job imports RLlib beside them (bench/results/history.md).

Ray has no flag for the client server: ``ray start --head`` starts it whenever ``grpc`` imports
(``ray.scripts.scripts.get_ray_client_dependency_error``), so this launcher answers that check "not installed", in
this process only. A private name of Ray's: tests/unit/test_local_ray_ports.py pins it, docs/ARCHITECTURE.md lists
it. Run as ``python runtime/cluster/lean_ray_start.py start --head ...`` (the ``ray`` command's arguments): a file
that imports only Ray, so the node needs nothing of rlrt on its path.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    # Run as a file, its folder heads the path: its neighbours (node.py, plan.py, worker.py) must not shadow a module.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    import ray.scripts.scripts as ray_cli  # heavy: Ray's command line

    ray_cli.get_ray_client_dependency_error = lambda: ImportError("a one-machine job's Ray has no Ray Client server")
    sys.argv = ["ray", *sys.argv[1:]]
    ray_cli.main()


if __name__ == "__main__":
    main()
