"""rlrt's own log lines: what the loggers of ``runtime``, ``envs`` and ``sagemaker_rl`` write reads ``rlrt: <message>``
like every line rlrt prints (errors ``rlrt: error: <message>``); other libraries' loggers write only their warnings and
errors, in the usual ``<time> <LEVEL> <logger>: <message>`` format (their INFO lines, such as matplotlib's
``generated new fontManager``, are nothing a user can act on)."""

from __future__ import annotations

import logging
import os
import sys
import warnings

FIRST_PARTY = ("runtime", "envs", "sagemaker_rl")
"""The packages whose loggers write rlrt's lines (INFO and above)."""
OTHERS_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UNACTIONABLE_WARNINGS = ("ignore:pkg_resources is deprecated:UserWarning:pygame.pkgdata",)
"""Library warnings nothing a user does can act on, as ``-W`` / ``PYTHONWARNINGS`` entries: pygame (gym's and
gymnasium's frames) imports setuptools' ``pkg_resources``, which the pinned setuptools (kept for TensorBoard) says is
deprecated."""


def is_first_party(logger_name: str) -> bool:
    """Whether ``logger_name`` is one of rlrt's own loggers (:data:`FIRST_PARTY`)."""
    return logger_name.split(".", 1)[0] in FIRST_PARTY


class RlrtFormatter(logging.Formatter):
    """``rlrt: <message>`` for rlrt's own loggers, :data:`OTHERS_FORMAT` for the rest (tracebacks appended as
    usual)."""

    def __init__(self) -> None:
        super().__init__(OTHERS_FORMAT)
        self.own = logging.Formatter("rlrt: %(message)s")
        self.own_error = logging.Formatter("rlrt: error: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not is_first_party(record.name):
            return super().format(record)
        return (self.own_error if record.levelno >= logging.ERROR else self.own).format(record)


def configure_logging(others: bool = True) -> None:
    """A command's logging (idempotent): rlrt's own loggers at INFO through a stderr handler with
    :class:`RlrtFormatter`; with ``others`` that handler is the root logger's and other libraries are kept at WARNING.
    A user's launcher script owns its process's logging: there (``others=False``) only rlrt's loggers are set up."""
    quiet_unactionable_warnings()
    if others:
        root = logging.getLogger()
        _add_handler(root)
        root.setLevel(logging.WARNING)
    for name in FIRST_PARTY:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if not others:
            _add_handler(logger)
            logger.propagate = False


class StderrHandler(logging.StreamHandler):
    """A stream handler on whatever ``sys.stderr`` is when a record is written (as Python's own last-resort
    handler), not the one it was made with: while a training progress bar is shown, that stream takes the bar off
    the screen before the line (:class:`runtime.train.progress.ProgressBar`)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)  # not StreamHandler's: it would set the stream

    @property
    def stream(self) -> object:
        return sys.stderr


def _add_handler(logger: logging.Logger) -> None:
    if not any(isinstance(handler.formatter, RlrtFormatter) for handler in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(RlrtFormatter())
        logger.addHandler(handler)


def quiet_unactionable_warnings() -> None:
    """Leave :data:`UNACTIONABLE_WARNINGS` out of this process and, through ``PYTHONWARNINGS``, out of every process it
    starts afterwards (Ray's workers, a script's subprocesses), which then filter them from their first line on,
    whatever ``warnings.catch_warnings`` blocks come and go (idempotent)."""
    given = [entry for entry in os.environ.get("PYTHONWARNINGS", "").split(",") if entry]
    for entry in UNACTIONABLE_WARNINGS:
        action, message, category, module = entry.split(":")
        warnings.filterwarnings(action, message=message, category=UserWarning, module=module)  # type: ignore[arg-type]
        if entry not in given:
            given.append(entry)
    os.environ["PYTHONWARNINGS"] = ",".join(given)
