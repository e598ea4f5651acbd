"""How many CPU threads torch (and OpenMP, MKL, NumPy's OpenBLAS) gets in each process of a job, chosen from the job's
layout by :func:`choose_threads`, the one rule; ``rl.training.config.num_threads`` overrides it for the learner.

Why a rule at all: torch starts one OpenMP thread per core in every process. A small network's update is thousands of
small ops, each ending at a barrier across those threads; when another process (an env runner, the simulator,
another job on the machine) holds one of the cores, the other threads spin or sleep out a time slice at every
barrier. The default CartPole job on a 2-core machine with background work took 125-147 s with torch's default and
27-28 s with one thread, to the same result (bench/results/history.md). One thread per process is what RL Zoo's
``--num-threads`` and Stable-Baselines3 recommend for small networks on CPU.

The rule (:func:`choose_threads`):

- a process that acts (an env runner, an evaluation, serving) runs one observation batch through a small network:
  one thread; with a large network (a convolution, or a layer wider than :data:`SMALL_LAYER`) as many as the CPUs
  Ray gives it (``num_cpus_per_env_runner``);
- the learner of a small network on CPU: one thread;
- the learner of a large network on CPU: the CPUs the env runners leave (shared among the learners);
- a learner on a GPU: :data:`GPU_LEARNER_THREADS`: the math runs on the device, the CPU only builds the batch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

from runtime.config.values import ValueCheck

SETTING = "num_threads"
"""``rl.training.config.num_threads``: the learner's threads (RLlib's learner; d3rlpy's trainer), instead of the rule's
choice."""
SETTING_CHECK = ValueCheck((int,), lambda v: v >= 1, "an integer >= 1 (the learner's torch CPU threads)")
SMALL_LAYER = 256
"""The widest fully-connected layer of a network the rule calls small (RLlib's default network is 256 x 256): its
ops are too short for more threads to gain what their barriers cost."""
DEFAULT_LAYER = 256
"""The width of RLlib's and d3rlpy's default hidden layers, when the configuration names none."""
ACTING_THREADS = 1
"""Threads of a process that only acts with a small policy (env runner, ``rlrt evaluate``, serving)."""
GPU_LEARNER_THREADS = 1
"""A GPU learner's CPU threads: its batch is made by single-threaded Python (RLlib's learner connectors) and copied to
the device, so torch's CPU threads would have nothing to share out."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""What torch (OpenMP, MKL) and NumPy (OpenBLAS) read when they are imported: set before a process starts."""


@dataclass(frozen=True)
class Layout:
    """What the thread count of a job's processes depends on."""

    cpus: int
    """The CPUs the job's Ray (or the process) has."""
    env_runners: int = 0
    """Env-runner processes (0: the driver samples itself)."""
    cpus_per_env_runner: float = 1.0
    learners: int = 0
    """Learner processes (0: the learner runs in the driver)."""
    gpus_per_learner: float = 0.0
    widest_layer: int = DEFAULT_LAYER
    convolutional: bool = False
    override: int | None = None
    """``rl.training.config.num_threads``, when given."""

    @property
    def small(self) -> bool:
        return not self.convolutional and self.widest_layer <= SMALL_LAYER


@dataclass(frozen=True)
class Threads:
    """The threads of each kind of process of a job (:func:`choose_threads`'s answer)."""

    learner: int
    env_runner: int
    layout: Layout

    @property
    def driver(self) -> int:
        """The driver's own: the learner's when the learner runs in it, else an acting process's."""
        return self.learner if self.layout.learners == 0 else self.env_runner

    def line(self) -> str:
        """The job's log line that says the choice and how to change it."""
        layout = self.layout
        runners = layout.env_runners
        where = f"env runners {self.env_runner} each" if runners else "no env runners"
        counted = f"{runners} env runner{'' if runners == 1 else 's'}, " if runners else ""
        chosen = (
            f"rl.training.config.{SETTING}={layout.override} sets the learner's"
            if layout.override is not None
            else f"rl.training.config.{SETTING} overrides"
        )
        return (
            f"rlrt: torch threads: learner {self.learner}, {where} ({layout.cpus} CPUs, {counted}"
            f"{'GPU' if layout.gpus_per_learner else 'CPU'} learner, {'small' if layout.small else 'large'} "
            f"network; {chosen})"
        )

    def record(self) -> dict[str, Any]:
        """What the model's config.yaml records (``threads``)."""
        return {
            "learner": self.learner,
            "env_runner": self.env_runner,
            "cpus": self.layout.cpus,
            "env_runners": self.layout.env_runners,
            "chosen_by": f"rl.training.config.{SETTING}" if self.layout.override is not None else "rlrt's rule",
        }


def choose_threads(layout: Layout) -> Threads:
    """The threads of each process of a job laid out as ``layout`` (the rule in the module's docstring)."""
    per_runner = max(0.0, float(layout.cpus_per_env_runner))
    env_runner = ACTING_THREADS if layout.small else max(1, math.floor(per_runner))
    if layout.override is not None:
        learner = layout.override
    elif layout.gpus_per_learner > 0:
        learner = GPU_LEARNER_THREADS
    elif layout.small:
        learner = 1
    else:
        left = layout.cpus - math.ceil(layout.env_runners * per_runner)
        learner = max(1, left // max(1, layout.learners))
    return Threads(learner=learner, env_runner=env_runner, layout=layout)


def layout_of(config: Mapping[str, Any], cpus: int, gpus: int = 0) -> Layout:
    """The layout a resolved algorithm configuration (RLlib's 2.x names, or d3rlpy's: ``hidden_units``) asks for on
    ``cpus`` CPUs and ``gpus`` GPUs."""
    model = config.get("model_config") or {}
    layers = [
        *(model.get("fcnet_hiddens") or [DEFAULT_LAYER]),
        *(model.get("head_fcnet_hiddens") or []),
        *(config.get("hidden_units") or []),
    ]
    widest = max([int(width) for width in layers if isinstance(width, (int, float))] or [DEFAULT_LAYER])
    gpus_per_learner = float(config.get("num_gpus_per_learner") or (1 if gpus else 0))
    override = config.get(SETTING)
    return Layout(
        cpus=max(1, int(cpus)),
        env_runners=int(config.get("num_env_runners") or 0),
        cpus_per_env_runner=float(config.get("num_cpus_per_env_runner") or 1),
        learners=int(config.get("num_learners") or 0),
        gpus_per_learner=gpus_per_learner,
        widest_layer=widest,
        convolutional=bool(model.get("conv_filters")),
        override=int(override) if override is not None else None,
    )


def job_threads(chosen: Threads | None, config: Mapping[str, Any], cpus: int, gpus: int = 0) -> Threads:
    """The threads the job's setup ``chosen`` (a spec's ``threads``), else the rule's for ``config`` (a spec made
    without the job's setup)."""
    return chosen if chosen is not None else choose_threads(layout_of(config, cpus, gpus))


def thread_variables(threads: int) -> dict[str, str]:
    """The environment variables that give a process started with them ``threads`` threads."""
    return {name: str(threads) for name in THREAD_VARIABLES}


def use_threads(threads: int) -> None:
    """Give this process's torch ``threads`` threads, and the processes it starts from now on the same (torch reads
    ``OMP_NUM_THREADS`` when it is imported, so a child gets it from its environment)."""
    import torch  # heavy: torch (~1.5 s); every caller has imported it already

    os.environ.update(thread_variables(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
