"""``rl_coach.schedules``: values that change with the steps (exploration epsilon, PPO's clipping), as Coach's
``rl_coach/schedules.py`` defines them. :meth:`Schedule.step` advances one step, as Coach did."""

from __future__ import annotations

import abc

from typing import Any

from rl_coach._where import Recorded


def _between(value: float, a: float, b: float) -> float:
    return min(max(value, min(a, b)), max(a, b))


class Schedule(Recorded, abc.ABC):
    def __init__(self, initial_value: float) -> None:
        self.initial_value = initial_value
        self.current_value = initial_value

    @abc.abstractmethod
    def step(self) -> None:
        """Advance one step (each subclass's rule, as in Coach)."""


class ConstantSchedule(Schedule):
    """Always ``initial_value``."""

    def step(self) -> None:
        pass


class LinearSchedule(Schedule):
    """From ``initial_value`` to ``final_value`` in ``decay_steps`` equal steps, then constant."""

    def __init__(self, initial_value: float, final_value: float, decay_steps: int) -> None:
        super().__init__(initial_value)
        self.final_value = final_value
        self.decay_steps = decay_steps
        self.decay_delta = (initial_value - final_value) / float(decay_steps)

    def step(self) -> None:
        self.current_value = _between(self.current_value - self.decay_delta, self.initial_value, self.final_value)


class PieceWiseSchedule(Schedule):
    """Sub-schedules one after the other: ``[(schedule, EnvironmentSteps(n)), ...]``."""

    def __init__(self, schedules: list[tuple[Schedule, Any]]) -> None:
        super().__init__(schedules[0][0].initial_value)
        self.schedules = schedules
        self.current_schedule = schedules[0]
        self.current_schedule_idx = 0
        self.current_schedule_step_count = 0

    def step(self) -> None:
        self.current_schedule[0].step()
        if (
            self.current_schedule_idx < len(self.schedules) - 1
            and self.current_schedule_step_count >= self.current_schedule[1].num_steps
        ):
            self.current_schedule_idx += 1
            self.current_schedule = self.schedules[self.current_schedule_idx]
            self.current_schedule_step_count = 0
        self.current_value = self.current_schedule[0].current_value
        self.current_schedule_step_count += 1


class ExponentialSchedule(Schedule):
    """``initial_value`` multiplied by ``decay_coefficient`` each step, up to ``final_value``."""

    def __init__(self, initial_value: float, final_value: float, decay_coefficient: float) -> None:
        super().__init__(initial_value)
        if decay_coefficient < 1 and final_value > initial_value:
            raise ValueError("The final value should be lower than the initial value when the decay coefficient < 1")
        if decay_coefficient > 1 and initial_value > final_value:
            raise ValueError("The final value should be higher than the initial value when the decay coefficient > 1")
        self.final_value = final_value
        self.decay_coefficient = decay_coefficient
        self.current_step = 0

    def step(self) -> None:
        self.current_value = _between(self.current_value * self.decay_coefficient, self.initial_value, self.final_value)
        self.current_step += 1
