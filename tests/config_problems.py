"""The full hyperparameter check's problems as a list of the lines a user reads (shared by the schema tests of each
backend, which compare them with the quick check's)."""

from __future__ import annotations

import re
from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.plugins import INSTALLED


def full_problems(hyperparameters: Mapping[str, Any], **resolve: Any) -> list[str]:
    """The problems ``hp.resolve`` (the library imported) reports for ``hyperparameters``: [] when it accepts them."""
    try:
        hp.resolve(dict(hyperparameters), INSTALLED.validator_for, **resolve)
    except UserError as exc:
        text = str(exc)
        return (
            [text.removeprefix("Invalid hyperparameter: ")]
            if "\n" not in text
            else re.findall(r"^  - (.*)$", text, re.M)
        )
    return []
