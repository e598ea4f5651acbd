"""The d3rlpy backend: offline (batch) RL from logged data with off-policy evaluation.

- :mod:`.factory`: ``BACKEND`` (:class:`runtime.contracts.BackendFactory`), installed by :mod:`runtime.plugins`,
  and the model I/O (a model's greedy policy, a bare ``model.d3`` recognised as a model);
- :mod:`.library`: d3rlpy imported quietly, its model file written and read;
- :mod:`.squared_error`: a Q-function fitted with the squared TD error (``q_func_factory: mean_squared_error``);
- :mod:`.config`: which algorithms train offline; ``rl.training.config.*`` onto d3rlpy's config dataclasses;
- :mod:`.config_keys`: those dataclasses' fields kept as data (``config_keys.json``) for the quick check;
- :mod:`.backend`: the training session the loop driver runs (epochs of gradient steps, OPE each epoch);
- :mod:`.policy`: the serving policy (greedy action, action probabilities) as one torch module.
"""
