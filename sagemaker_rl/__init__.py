"""SageMaker RL's launcher API on rlrt: users' ``train-*.py`` scripts from SageMaker RL notebooks run unchanged.

- :mod:`sagemaker_rl.ray_launcher`: ``SageMakerRayLauncher`` (Ray RLlib scripts); the experiment dict is resolved
  by rlrt's hyperparameter path and trained by rlrt's one training driver;
- :mod:`sagemaker_rl.user_envs`: the script's ``register_env`` creators as rlrt environments;
- :mod:`sagemaker_rl.coach_launcher`: ``SageMakerCoachPresetLauncher`` (Coach scripts), with
  :mod:`sagemaker_rl.configuration_list` (``rl.*`` hyperparameters onto a Coach graph manager);
- :mod:`sagemaker_rl.compat`: the ``roboschool``, ``gym_unity`` and ``rl_coach`` (Coach's parameter classes)
  compatibility modules.

An old copy of SageMaker RL's ``sagemaker_rl`` (Ray 0.8 - 1.x) uploaded with the script is refused by the
container before the script runs (``runtime/job/script_mode.py``). docs/MIGRATING.md walks through a migration.
"""
