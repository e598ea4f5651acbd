"""Coach's step counts (``rl_coach.core_types``: ``EnvironmentSteps(n)``, ``TrainingSteps(n)``, ...), kept here so
that both rlrt's ``rl_coach`` compatibility package (``for_rl_coach/rl_coach/core_types.py`` re-exports them) and
``sagemaker_rl.coach_launcher`` (``CoachConfigurationList.ALLOWED_TYPES``) hold the same classes without putting
the compatibility folder on ``sys.path``.

Names and behaviour follow Coach (``rl_coach/core_types.py``): ``num_steps``, and ``/`` rounding up. Two steps are
equal when they count the same thing the same number of times (Coach compared the numbers only, so that
``TrainingSteps(5) == EnvironmentSteps(5)`` held there; here it does not).
"""

from __future__ import annotations

import math
from typing import Any


class StepMethod:
    """A number of steps of some kind (the sub-class says which)."""

    def __init__(self, num_steps: int) -> None:
        self.num_steps = num_steps

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.num_steps == other.num_steps

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.num_steps))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_steps!r})"

    def __truediv__(self, other: Any) -> Any:
        """``steps / steps`` of one kind: how many (rounded up); ``steps / int``: steps of the same kind."""
        if isinstance(other, type(self)):
            return math.ceil(self.num_steps / other.num_steps)
        if isinstance(other, int):
            return type(self)(math.ceil(self.num_steps / other))
        raise TypeError(f"cannot divide {type(self).__name__} by {type(other).__name__}")


class Frames(StepMethod):
    """Environment frames (steps before frame skipping)."""


class EnvironmentSteps(StepMethod):
    """Steps in the environment."""


class EnvironmentEpisodes(StepMethod):
    """Whole episodes in the environment."""


class TrainingSteps(StepMethod):
    """Training iterations (network updates); Coach allowed ``TrainingSteps / EnvironmentSteps``."""

    def __truediv__(self, other: Any) -> Any:
        if isinstance(other, EnvironmentSteps):
            return math.ceil(self.num_steps / other.num_steps)
        return super().__truediv__(other)


class Time(StepMethod):
    """Wall-clock time."""


STEP_TYPES: dict[str, type[StepMethod]] = {
    cls.__name__: cls for cls in (Frames, EnvironmentSteps, EnvironmentEpisodes, TrainingSteps, Time)
}
"""The step kinds by name: what SageMaker RL's hyperparameters may name after a colon (``rl.x:EnvironmentSteps``)."""
