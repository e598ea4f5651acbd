"""``BACKEND`` of the RLlib backend: it trains the algorithms RLlib has, starts Ray early, and owns its model I/O
(the serving model of a model folder's checkpoint, a model's greedy policy for evaluation)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from runtime.backends.rllib.backend import RLlibSession, serving_model_from_checkpoint
from runtime.backends.rllib.config import ALGORITHMS
from runtime.backends.rllib.config_keys import quick_problems
from runtime.backends.rllib.policy import serving_policy_from_checkpoint
from runtime.backends.rllib.quiet import quiet_ray_logs
from runtime.backends.rllib.ray_process import LocalRay
from runtime.backends.rllib.validator import RLlibValidator
from runtime.config.threads import ACTING_THREADS, use_threads
from runtime.contracts import Actor, BackendContext, BackendFactory
from runtime.evaluate.video import torch_actor
from runtime.export.policy import ServingModels
from runtime.names import CHECKPOINT_DIR


class RLlibBackendFactory(BackendFactory):
    """The RLlib backend (see :class:`runtime.contracts.BackendFactory`)."""

    name = "rllib"
    algorithms = ALGORITHMS
    distributed = True
    """Trains across the hosts of a multi-host job (a Ray cluster)."""

    def validator(self) -> RLlibValidator:
        return RLlibValidator()

    def create(self, context: BackendContext) -> RLlibSession:
        return RLlibSession(context)

    def start_early(self, num_cpus: int, num_gpus: int) -> LocalRay | None:
        """Start the job's own Ray (a child process) before the spec is resolved, so that Ray's processes start
        while RLlib imports; the session joins it. None when the job joins the cluster ``RAY_ADDRESS`` names (quick,
        and a cluster that is not there is then reported once)."""
        return None if os.environ.get("RAY_ADDRESS") else LocalRay(num_cpus, num_gpus)

    def quick_check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        """The validator's problems with ``config`` from ``config_keys.json`` (no RLlib import)."""
        return quick_problems(self.validator().algorithm_name(algorithm), config)

    def serving_model(self, model_dir: Path) -> ServingModels:
        quiet_ray_logs()  # RLlib's own lines that do not apply, as in training (rlrt export)
        return serving_model_from_checkpoint(model_dir / CHECKPOINT_DIR)

    def load_actor(self, model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
        """The model's deterministic policy, rebuilt from its checkpoint (the module plus its connectors)."""
        quiet_ray_logs()  # RLlib's own lines that do not apply (its RLModule's deprecation), as in training
        policy, _, _ = serving_policy_from_checkpoint(model_dir / str(metadata.get("checkpoint") or CHECKPOINT_DIR))
        use_threads(ACTING_THREADS)  # one observation at a time (runtime.config.threads)
        return torch_actor(policy)


BACKEND = RLlibBackendFactory()
