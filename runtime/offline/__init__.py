"""Offline (batch) RL: rollout collection, logged-data loading, BCQ training with d3rlpy, off-policy evaluation.

Modules:

- :mod:`runtime.offline.collect`: ``rlrt collect`` (N vectorised environments under a behaviour policy given as
  action probabilities; the seeds' rollout CSV, Parquet, or state dumps for Batch Transform);
- :mod:`runtime.offline.dataset`: the ``train`` channel (CSV/Parquet) into a checked :class:`LoggedData` and a
  d3rlpy ``MDPDataset``;
- :mod:`runtime.offline.ope`: IS, WIS, DR, sequential DR (as Coach computed them) and d3rlpy's FQE;
- :mod:`runtime.offline.backend`: the d3rlpy configuration validator (``rl.training.config.*``);
- :mod:`runtime.offline.training`: the offline training driver (epochs, OPE, checkpoints, SIGTERM, export);
- :mod:`runtime.offline.evaluate`: evaluation of a d3rlpy model in an environment (Coach-style ``Testing>`` lines);
- :mod:`runtime.offline.export`: TorchScript and ONNX policies (action and action probabilities).
"""
