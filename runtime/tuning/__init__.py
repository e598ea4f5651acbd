"""``rlrt tune``: hyperparameter search over training jobs, with SageMaker HyperparameterTuner's grammar, on Ray Tune.

The input file (YAML or JSON) mirrors ``sagemaker.tuner.HyperparameterTuner``'s arguments::

    objective_metric_name: episode_reward_mean     # the only objective the training driver prints
    objective_type: Maximize                       # or Minimize
    max_jobs: 8                                    # trials in all
    max_parallel_jobs: 2                           # trials at a time
    strategy: Bayesian                             # Bayesian (Optuna's TPE), Random, or Grid (categorical ranges
                                                   # only: every combination once, in order; max_jobs optional)
    early_stopping_type: Auto                      # Auto (ASHA on training_iteration) or Off
    static_hyperparameters:                        # the estimator's hyperparameters, the same in every trial
      preset: cartpole-ppo
      rl.training.stop.time_total_s: 600
    hyperparameter_ranges:                         # ContinuousParameter / IntegerParameter / CategoricalParameter
      rl.training.config.kl_coeff: {type: Continuous, min_value: 0.5, max_value: 1.0}
      rl.training.config.num_sgd_iter: {type: Integer, min_value: 3, max_value: 50}
      rl.training.config.lr: {type: Continuous, min_value: 1.0e-5, max_value: 1.0e-2, scaling_type: Logarithmic}
      rl.training.config.gamma: {type: Continuous, min_value: 0.9, max_value: 0.999,
                                 scaling_type: ReverseLogarithmic}
      rl.training.config.vf_share_layers: {type: Categorical, values: [true, false]}

``hyperparameter_ranges`` may also be given in the CreateHyperParameterTuningJob API's shape
(``ParameterRanges: {ContinuousParameterRanges: [{Name, MinValue, MaxValue, ScalingType}], ...}``).
Scaling types: ``Linear``, ``Logarithmic`` (min > 0), ``ReverseLogarithmic`` (continuous only, 0 <= min < max < 1:
sampled as ``1 - loguniform(1 - max, 1 - min)``, dense near 1), and ``Auto`` (Logarithmic when min > 0 and
max / min >= 100, else Linear).

Each trial is one training job, exactly what SageMaker's tuner launches: ``python -m runtime.cli train`` in its own
``/opt/ml`` tree under the output folder, with the static and sampled hyperparameters in ``hyperparameters.json``.
The objective is read from the job's stdout metric lines (``episode_reward_mean: <float>``, SageMaker's regex), one
report per training iteration; the trial's objective is its last reported value, as in SageMaker. Results: a table
on stdout and in ``tuning_results.csv``, the best trial's hyperparameters in ``best_hyperparameters.json``.

The package: :mod:`~runtime.tuning.spec` (the request, parsed and checked), :mod:`~runtime.tuning.trial` (one
trial = one training job), :mod:`~runtime.tuning.runner` (the search on Ray Tune, ``rlrt tune``) and
:mod:`~runtime.tuning.results` (the table and the best trial) and :mod:`~runtime.tuning.output` (one run's own output
folder: a used ``--output`` is refused).
"""

from runtime.tuning.results import BEST_JSON, RESULTS_CSV, TuningOutcome
from runtime.tuning.runner import run_tuning, run_tuning_job
from runtime.tuning.spec import ParameterRange, TuningSpec, check_hyperparameters, load_tuning_spec, parse_tuning_spec
from runtime.tuning.trial import trial_class, wait_for_jobs

__all__ = [
    "BEST_JSON",
    "ParameterRange",
    "RESULTS_CSV",
    "TuningOutcome",
    "TuningSpec",
    "check_hyperparameters",
    "load_tuning_spec",
    "parse_tuning_spec",
    "run_tuning",
    "run_tuning_job",
    "trial_class",
    "wait_for_jobs",
]
