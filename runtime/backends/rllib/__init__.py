"""The RLlib backend (Ray RLlib 2.x, new API stack): online training of any algorithm RLlib has.

- :mod:`.factory`: ``BACKEND`` (:class:`runtime.contracts.BackendFactory`), installed by :mod:`runtime.plugins`;
- :mod:`.config`: ``rl.training.config.*`` in RLlib's names (the seeds' RLlib 1.x names translated) and checked;
- :mod:`.algorithm`: environment registration, multi-agent policies, the AlgorithmConfig built from a spec;
- :mod:`.ray_process`: the job's Ray instance (started early, joined, stopped);
- :mod:`.backend`: the training session the loop driver runs (:class:`runtime.contracts.TrainingSession`);
- :mod:`.policy`: the serving policy (module + connectors) taken from an algorithm or a checkpoint;
- :mod:`.episode_metrics`: exact episode lengths and returns (env-runner callback);
- :mod:`.episode_output`: RLlib 1.x's ``output``: finished episodes written in the rollout format (callback).

This package module imports nothing: Ray's worker processes import its modules (the env creator, the log filter).
"""
