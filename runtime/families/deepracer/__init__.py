"""DeepRacer on the rlrt runtime (the environment itself is :mod:`envs.deepracer`, which knows nothing of SageMaker).

- :mod:`.family`: ``FAMILY`` (:class:`runtime.contracts.Family`), installed by :mod:`runtime.plugins`;
- :mod:`.dialect`: DeepRacer's hyperparameter names onto rlrt's grammar;
- :mod:`.files`: the reward function, ``model_metadata.json`` and ``training_params.yaml`` in the ``train`` channel,
  the network ``neural_network`` names;
- :mod:`.training`: the training hooks (``training_metrics.json``, simtrace, Coach lines; the camera frames'
  scaling is the RLlib backend's, :func:`runtime.backends.rllib.images.scaled_frames`);
- :mod:`.evaluation`: evaluation trials and head-to-head races (``evaluation_metrics.json``).
"""
