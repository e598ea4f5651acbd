"""The RLlib backend (Ray RLlib 2.x, new API stack): online training of any algorithm RLlib has.

- :mod:`.config`: ``rl.training.config.*`` in RLlib's names (the seeds' RLlib 1.x names translated) and checked;
- :mod:`.algorithm`: environment registration, multi-agent policies, the AlgorithmConfig built from a spec;
- :mod:`.backend`: the training session the loop driver runs (:class:`runtime.train.backend.Backend`);
- :mod:`.policy`: the serving policy (module + connectors) taken from an algorithm or a checkpoint.
"""

from runtime.backends.rllib.backend import BACKEND

__all__ = ["BACKEND"]
