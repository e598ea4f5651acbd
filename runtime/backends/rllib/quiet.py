"""Ray and RLlib log lines a user of rlrt cannot act on, dropped from the job's log.

Each entry names the logger that writes it and the start of its message; nothing else is touched, so every other
warning Ray or RLlib writes still reaches the log. ``tests/jobs/test_train.py`` checks a job's log for them.
"""

from __future__ import annotations

import logging

NOT_ACTIONABLE: dict[str, tuple[str, ...]] = {
    # rlrt chooses RLlib's new API stack for every job; the hint to turn it off does not apply.
    "ray.rllib.algorithms.algorithm_config": ("You are running ",),
    # RLlib's own RLModule constructor builds the deprecated RLModuleConfig (ray 2.5x); no user code is involved.
    "ray._common.deprecation": ("DeprecationWarning: `RLModule(config=[RLModuleConfig object])`",),
    # Ray Tune's system monitor asks for a GPU library even on CPU machines.
    "ray.tune.utils.util": ("Install gputil for GPU system monitoring.",),
    # Building the algorithm's env runners is what the job does first; Tune's hint about actor reuse does not apply.
    "ray.tune.trainable.trainable": ("Trainable.setup took ",),
    # Ray starts in a background thread while RLlib imports; rlrt installs its own SIGTERM handler (checkpoint, 143).
    "ray._private.worker": ("SIGTERM handler is not set because current thread is not the main thread",),
}
"""Logger name -> message prefixes dropped from it."""


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


def quiet_ray_logs() -> None:
    """Drop the lines in :data:`NOT_ACTIONABLE` from their loggers (idempotent). Called before Ray starts in the
    driver, and in every Ray worker of the job (``worker_process_setup_hook``, so env runners' lines go too)."""
    for name, prefixes in NOT_ACTIONABLE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefixes))
