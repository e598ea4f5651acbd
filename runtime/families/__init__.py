"""Environment families as plug-ins: what a family of environments adds to a generic job.

A family is a package here whose ``family.FAMILY`` is a :class:`runtime.contracts.Family` (DeepRacer today): the
environments it claims, its hyperparameter dialect (applied by :func:`runtime.job.setup.resolve_spec` for train and
tune), its :class:`runtime.contracts.TrainingHooks` (files in, outputs out during training) and its own evaluation.
:mod:`runtime.plugins` installs it; the generic path asks :meth:`runtime.contracts.Plugins.family_for` and never
names a family. Environment families that need only the job's context in ``env_config`` (Unity games: the ``train``
channel and the log folder) declare that in :mod:`envs.registry` (``job_context``) and need no plug-in. The contracts
are re-exported here for a family's author.
"""

from runtime.contracts import Family, TrainingHooks

__all__ = ["Family", "TrainingHooks"]
