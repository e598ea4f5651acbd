"""rlrt's compatibility package for Intel RL Coach's parameter API (``rl_coach``): the classes Coach presets and
SageMaker RL's ``train-coach.py`` / ``evaluate-coach.py`` build their ``graph_manager`` from, with Coach's attribute
names and defaults (read from Coach's own source: ``rl_coach/base_parameters.py``, ``rl_coach/agents/*``,
``rl_coach/graph_managers/graph_manager.py``, ``rl_coach/core_types.py``). It holds parameters only: no Coach
engine, no TensorFlow, no MXNet. rlrt trains what a preset describes with its own backends.

Put on ``sys.path`` by ``sagemaker_rl.compat`` only when a real ``rl_coach`` is absent.
"""

from rl_coach import logger  # noqa: F401  (scripts write rl_coach.logger.experiment_path after `import rl_coach`)
