"""Ray and RLlib log lines a user of rlrt cannot act on, dropped from the job's log.

Each entry names the logger that writes it and the start of its message; nothing else is touched, so every other
warning Ray or RLlib writes still reaches the log. ``tests/quiet_logs.py`` checks jobs' logs for any line that is not
rlrt's own.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import warnings

from sagemaker_rl.compat.era import install_if_asked

NOT_ACTIONABLE: dict[str, tuple[str, ...]] = {
    # rlrt chooses RLlib's new API stack for every job; the hint to turn it off does not apply.
    "ray.rllib.algorithms.algorithm_config": ("You are running ",),
    "ray.rllib.algorithms.sac.sac": ("You are running SAC on the new API stack!",),
    # RLlib's own RLModule constructor builds the deprecated RLModuleConfig (ray 2.5x); no user code is involved.
    "ray._common.deprecation": ("DeprecationWarning: `RLModule(config=[RLModuleConfig object])`",),
    # RLModule's constructor (ray.rllib.core.rl_module.rl_module, which logs as "ray.rllib") says this when the model's
    # catalog failed to build (no convolutional layers for an image size): the failure itself, with its cause, is what
    # the job reports (runtime.backends.rllib.env_checks).
    "ray.rllib": ("Didn't create a Catalog object for your RLModule!",),
    # Ray Tune's system monitor asks for a GPU library even on CPU machines.
    "ray.tune.utils.util": ("Install gputil for GPU system monitoring.",),
    # Building the algorithm's env runners is what the job does first; Tune's hint about actor reuse does not apply.
    "ray.tune.trainable.trainable": ("Trainable.setup took ",),
    # The driver joins the job's own Ray (ray_process.LocalRay), or the cluster RAY_ADDRESS names, which rlrt names.
    "ray._private.worker": ("Connecting to existing Ray cluster at address: ", "Connected to Ray cluster."),
    # Where /dev/shm is too small for Ray's object store, rlrt names the store's folder itself and says so in one line
    # with the docker flag (runtime.cluster.object_store.object_store_options); Ray then notes this.
    "ray._private.services": ("object_store_memory is not verified when plasma_directory is set.",),
}
"""Logger name -> message prefixes dropped from it."""

NATIVE_NOT_ACTIONABLE = re.compile(
    rb"core_worker\.cc:\d+: Actor with class name: '(Single|Multi)AgentEnvRunner' and ID: '\w+' has constructor "
    rb"arguments in the object store and max_restarts > 0"
)
"""Ray's C++ core worker (the driver's stderr) on creating remote env runners: RLlib hands them its config by
ObjectRef and keeps that reference for the env runner group's life (``EnvRunnerGroup._remote_config_obj_ref``), so
the restart it warns about works."""

GYM_REGISTRATION = r".*Overriding environment rllib-(single|multi)-agent-env-v0 already in registry"
"""gymnasium's warning each time RLlib registers its own wrapper id again (an env runner re-creating its env)."""


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


def quiet_ray_logs() -> None:
    """Drop the lines in :data:`NOT_ACTIONABLE` from their loggers and RLlib's :data:`GYM_REGISTRATION` warning
    (idempotent). Called before Ray starts in the driver, and in every Ray worker of the job
    (``worker_process_setup_hook``, so env runners' lines go too). In a worker of a job that runs a user's code (a
    launcher script), that code gets NumPy 1's names there too, before a user's env creator is unpickled
    (:func:`sagemaker_rl.compat.era.install_if_asked`)."""
    install_if_asked()
    for name, prefixes in NOT_ACTIONABLE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefixes))
    warnings.filterwarnings("ignore", message=GYM_REGISTRATION, category=UserWarning)


def quiet_ray_logs_and_gym() -> None:
    """:func:`quiet_ray_logs`, and the old ``gym`` package imported with its notice about itself left out: the hook
    of a job whose own code imports ``gym`` (a launcher script), which printed that notice once in the driver; each
    env runner would print it again when it loads the script's environment."""
    quiet_ray_logs()
    if "gym" not in sys.modules:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(ImportError):
            import gym  # noqa: F401  # heavy: the old gym, imported here first to leave its notice out
    install_if_asked()  # gym is imported now: bridge it too
