"""Offline (batch) RL: rollout collection, logged-data loading, BCQ training with d3rlpy, off-policy evaluation.

Modules:

- :mod:`runtime.offline.collect`: ``rlrt collect`` (N vectorised environments under a behaviour policy given as
  action probabilities; the seeds' rollout CSV, Parquet, or state dumps for Batch Transform);
- :mod:`runtime.offline.dataset`: the ``train`` channel (CSV/Parquet) into a checked :class:`LoggedData` and a
  d3rlpy ``MDPDataset``;
- :mod:`runtime.offline.sources`: where the data is (``rl.training.config.input``, else the ``train`` channel or the
  job's code) and its data files;
- :mod:`runtime.offline.rllib_json`: RLlib 1.x's JSON sample batches (its ``output``) read as logged episodes;
- :mod:`runtime.offline.ope`: IS, WIS, DR, sequential DR (as Coach computed them) and d3rlpy's FQE;
- :mod:`runtime.backends.d3rlpy.config`: the d3rlpy configuration validator (``rl.training.config.*``);
- :mod:`runtime.backends.d3rlpy.backend`: the offline training session (epochs, OPE) the one loop driver runs;
- :mod:`runtime.evaluate.episodes`: evaluation of a d3rlpy model in an environment (Coach-style ``Testing>`` lines);
- :mod:`runtime.backends.d3rlpy.policy`: the serving policy (action, action probabilities, Q values) handed to
  the one export pipeline (:mod:`runtime.export.pipeline`).
"""
