"""The d3rlpy backend: offline (batch) RL from logged data with off-policy evaluation.

- :mod:`.config`: which algorithms train offline; ``rl.training.config.*`` onto d3rlpy's config dataclasses;
- :mod:`.backend`: the training session the loop driver runs (epochs of gradient steps, OPE each epoch);
- :mod:`.policy`: the serving policy (greedy action, action probabilities) as one torch module.
"""

from runtime.backends.d3rlpy.backend import BACKEND

__all__ = ["BACKEND"]
