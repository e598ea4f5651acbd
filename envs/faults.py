"""Fault injection: an environment wrapper that crashes the process running it, or slows it down (for
fault-tolerance tests).

Enabled through ``env_config`` keys (so a hyperparameter such as
``rl.training.config.env_config.fault_crash_after_steps=50`` turns it on in any environment):

- ``fault_crash_after_steps``: crash on this step of the process's life (counted over all its episodes);
- ``fault_crash_mode``: ``exit`` (default; ``os._exit``, as a segfaulting simulator or an OOM kill looks to Ray)
  or ``raise`` (an exception from ``step``);
- ``fault_max_crashes``: how many crashes in total, over every process of the job (default: unlimited). Counted
  with marker files in ``fault_marker_dir`` (required with ``fault_max_crashes``; a folder every process sees),
  claimed atomically, so a restarted env runner runs cleanly once the budget is spent;
- ``fault_step_delay_s``: sleep this long in every step (a slow simulator or game).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym

FAULT_KEYS = (
    "fault_crash_after_steps",
    "fault_crash_mode",
    "fault_max_crashes",
    "fault_marker_dir",
    "fault_step_delay_s",
)
CRASH_EXIT_CODE = 77


class InjectedFault(RuntimeError):
    """The exception ``fault_crash_mode=raise`` raises."""


def split_fault_options(env_config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``env_config`` into (fault options, the rest for the environment)."""
    faults = {k: v for k, v in env_config.items() if k in FAULT_KEYS}
    rest = {k: v for k, v in env_config.items() if k not in FAULT_KEYS}
    return faults, rest


class CrashingEnv(gym.Wrapper):
    """Crashes its process after a number of steps, or sleeps in every step (see the module docstring)."""

    def __init__(
        self,
        env: gym.Env,
        fault_crash_after_steps: int | None = None,
        fault_crash_mode: str = "exit",
        fault_max_crashes: int | None = None,
        fault_marker_dir: str | None = None,
        fault_step_delay_s: float = 0.0,
    ) -> None:
        super().__init__(env)
        if fault_crash_after_steps is not None and (
            isinstance(fault_crash_after_steps, bool)
            or not isinstance(fault_crash_after_steps, int)
            or fault_crash_after_steps < 1
        ):
            raise ValueError(f"fault_crash_after_steps must be an integer >= 1, got {fault_crash_after_steps!r}")
        if (
            isinstance(fault_step_delay_s, bool)
            or not isinstance(fault_step_delay_s, (int, float))
            or not 0 <= fault_step_delay_s <= 60
        ):
            raise ValueError(f"fault_step_delay_s must be a number of seconds in [0, 60], got {fault_step_delay_s!r}")
        if fault_crash_mode not in ("exit", "raise"):
            raise ValueError(f"fault_crash_mode must be 'exit' or 'raise', got {fault_crash_mode!r}")
        if fault_max_crashes is not None and not fault_marker_dir:
            raise ValueError("fault_max_crashes needs fault_marker_dir (a folder every env runner can write)")
        self.crash_after = fault_crash_after_steps
        self.delay = float(fault_step_delay_s)
        self.mode = fault_crash_mode
        self.max_crashes = fault_max_crashes
        self.marker_dir = Path(fault_marker_dir) if fault_marker_dir else None
        self.steps = 0

    def _claim_crash(self) -> bool:
        """Whether this process may crash now (claims one of the job's ``fault_max_crashes``)."""
        if self.max_crashes is None or self.marker_dir is None:
            return True
        self.marker_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.max_crashes):
            try:
                fd = os.open(self.marker_dir / f"crash-{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            return True
        return False

    def step(self, action: Any) -> Any:
        self.steps += 1
        if self.delay:
            time.sleep(self.delay)
        if self.steps == self.crash_after and self._claim_crash():
            if self.mode == "raise":
                raise InjectedFault(f"injected fault after {self.steps} steps (pid {os.getpid()})")
            os._exit(CRASH_EXIT_CODE)
        return self.env.step(action)


def with_faults(env: gym.Env, faults: Mapping[str, Any]) -> gym.Env:
    """``env`` wrapped in :class:`CrashingEnv` when ``faults`` asks for crashes, else ``env`` itself."""
    if not faults:
        return env
    if "fault_crash_after_steps" not in faults and "fault_step_delay_s" not in faults:
        raise ValueError(f"fault injection needs fault_crash_after_steps or fault_step_delay_s (got {sorted(faults)})")
    return CrashingEnv(env, **faults)
