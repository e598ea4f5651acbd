"""sagemaker-training's ``train`` (a script-mode job: it fetches the source dir and runs the entry point), with its log
made rlrt's (``python -m runtime.toolkit``, run by :mod:`runtime.container`).

The toolkit's INFO lines about itself (its GPU and Neuron probes, ``instance_groups``, the DNS bypass, its JSON dump of
the training environment and every ``SM_*`` variable, ``Reporting training SUCCESS``) say nothing a user can act on
and are left out; the command it runs and the installs it makes become ``rlrt:`` lines; its warnings and errors (a
failed script: ``Reporting training FAILURE`` and why) stay as the toolkit writes them. A job whose log level is DEBUG
(the estimator's ``container_log_level``) gets every line unchanged.
"""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Mapping

from sagemaker_training import trainer

TOOLKIT_LOGGERS = ("sagemaker-training-toolkit", "sagemaker_training")
"""The toolkit's loggers: most of its modules log to the first, ``entry_point`` to its module's name."""
TOOLKIT_FORMAT = "%(asctime)s %(name)-12s %(levelname)-8s %(message)s"
"""The toolkit's own format (``sagemaker_training.logging_config.configure_logger``)."""
SCRIPT_COMMAND = "Invoking script with the following command:"
"""What precedes the entry point's command line in the toolkit's ``Invoking user script`` message."""
REWORDED: Mapping[str, str] = MappingProxyType(
    {
        "Installing dependencies from requirements.txt": "rlrt: installing the source dir's requirements.txt (pip)",
        "Installing module.": "rlrt: installing the source dir as a Python module (pip)",
    }
)
"""The toolkit's INFO lines a user wants to see (pip's output follows them), as rlrt lines."""


class ToolkitLines(logging.Filter):
    """Leaves out the toolkit's INFO lines and rewords those worth a line (see the module's docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        message = record.getMessage()
        if SCRIPT_COMMAND in message:
            command = message.split(SCRIPT_COMMAND, 1)[1].strip()
            return _reword(record, f"rlrt: running the entry point: {command}")
        for start, line in REWORDED.items():
            if message.startswith(start):
                return _reword(record, line)
        return False


def _reword(record: logging.LogRecord, line: str) -> bool:
    record.msg, record.args = line, None
    record.rlrt_line = True
    return True


class ToolkitFormatter(logging.Formatter):
    """rlrt's lines as they are, the toolkit's own in its format."""

    def __init__(self) -> None:
        super().__init__(TOOLKIT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage() if getattr(record, "rlrt_line", False) else super().format(record)


def main() -> None:
    """Run sagemaker-training's ``train`` with :class:`ToolkitLines` on its loggers; it exits with the job's code."""
    handler = logging.StreamHandler()
    handler.addFilter(ToolkitLines())
    handler.setFormatter(ToolkitFormatter())
    for name in TOOLKIT_LOGGERS:
        toolkit = logging.getLogger(name)
        toolkit.addHandler(handler)
        toolkit.propagate = False
    trainer.train()


if __name__ == "__main__":
    main()
