"""The installed plug-ins: the one place that names the backends and environment families this rlrt runs with.

The commands (:mod:`runtime.cli`, :mod:`runtime.container`, the ``sagemaker_rl`` launchers) hand
:data:`INSTALLED` to the job path, which knows only the contracts (:mod:`runtime.contracts`). Adding a backend
(SB3, TorchRL, ...) or a family is a package and a line here; no driver code changes.
"""

from __future__ import annotations

from runtime.backends.d3rlpy.factory import BACKEND as D3RLPY
from runtime.backends.rllib.factory import BACKEND as RLLIB
from runtime.contracts import Plugins
from runtime.families.deepracer.family import FAMILY as DEEPRACER
from sagemaker_rl.user_envs import SCRIPT_ENVIRONMENTS

INSTALLED = Plugins(backends=(D3RLPY, RLLIB), families=(DEEPRACER,), environment_sources=(SCRIPT_ENVIRONMENTS,))
"""The order is the default for an algorithm two backends train (``rl.training.backend`` names another): d3rlpy
first, so CQL trains with d3rlpy unless ``rl.training.backend=rllib``."""
