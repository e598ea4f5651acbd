"""``rl_coach.logger``: the names SageMaker RL's scripts and launcher use (``experiment_path``, ``screen``,
``get_experiment_name``). Lines go to stdout, without Coach's colours or its log.txt."""

from __future__ import annotations

import re
from typing import Any

experiment_path = ""
"""Where Coach wrote its outputs (gifs, CSVs); scripts set it (``rl_coach.logger.experiment_path = ...``)."""
experiment_name: str | None = None
failed_imports: list[str] = []


class ScreenLogger:
    """Coach's ``screen``: prefixed lines on stdout."""

    def __init__(self, name: str = "", use_colors: bool = False) -> None:
        self.name = name
        self.use_colors = use_colors

    def set_use_colors(self, use_colors: bool) -> None:
        """Kept for scripts that call it (SageMaker RL's launcher turns colours off); lines never have colours."""
        self.use_colors = use_colors

    def print(self, *text: Any) -> None:
        print(*text, flush=True)

    def log(self, data: Any) -> None:
        self.print(data)

    def log_dict(self, data: dict[str, Any], prefix: str = "") -> None:
        self.print("{}> {}".format(prefix, ", ".join(f"{k}={v}" for k, v in data.items())))

    def log_title(self, title: str) -> None:
        self.print(f"## {title}")

    def success(self, text: str) -> None:
        self.print(text)

    def warning(self, text: str) -> None:
        self.print(f"!! {text}")

    def error(self, text: str, crash: bool = True) -> None:
        self.print(f"!!!! {text}")
        if crash:
            raise SystemExit(1)


def get_experiment_name(initial_experiment_name: str | None = None) -> str:
    """The experiment name Coach derived from ``initial_experiment_name`` (spaces -> underscores; never asks)."""
    global experiment_name
    name = (initial_experiment_name or "").replace(" ", "_")
    if not re.fullmatch(r"[\w -/]{0,1000}", name):
        raise ValueError(
            "Experiment name must be composed only of alphanumeric letters, underscores and dashes "
            "and should not be longer than 1000 characters."
        )
    experiment_name = name
    return name


screen = ScreenLogger(experiment_path)
