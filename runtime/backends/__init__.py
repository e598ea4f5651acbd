"""Training backends: the libraries that train a policy (RLlib online, d3rlpy offline), behind one contract.

A backend is a package here whose ``factory.BACKEND`` is a :class:`runtime.contracts.BackendFactory`: it names the
algorithms it trains, checks their ``rl.training.config.*``, builds the :class:`runtime.contracts.TrainingSession`
the one loop driver runs, and reads and exports its model folders. :mod:`runtime.plugins` installs it; the driver,
the job setup, the evaluator and ``rlrt export`` know only the contracts, re-exported here for a backend's author.
"""

from runtime.contracts import BackendContext, BackendFactory, ConfigValidator, ModelInfo, Step, TrainingSession

__all__ = ["BackendContext", "BackendFactory", "ConfigValidator", "ModelInfo", "Step", "TrainingSession"]
