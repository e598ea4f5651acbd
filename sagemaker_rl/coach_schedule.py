"""A Coach preset's schedule (``improve_steps``, ``heatup_steps``, ``steps_between_evaluation_periods``,
``evaluation_steps``) as rlrt's stop, counted in what Coach counted.

Coach's graph manager (``rl_coach/graph_managers/graph_manager.py``, ``improve``/``train_and_act``) trains in
evaluation periods: each period loops ``act(EnvironmentSteps(1)); train()`` until its own count
(``steps_between_evaluation_periods``) is reached, and ``train()`` adds one to the ``TrainingSteps`` counter. One
training step is therefore one environment step, whatever the agent: ClippedPPO updates its networks once per
``num_consecutive_playing_steps`` (2,048 environment steps) and DQN once per step, but both count every step. The
loop checks ``improve_steps`` only after each period and its evaluation, so Coach played ``improve_steps`` rounded up
to whole periods. Heatup is played before, in its own phase, and is not counted in ``improve_steps``.

An rlrt iteration is a batch of environment steps (PPO: its train batch; DQN: RLlib's 1,000 sampled steps), so
``TrainingSteps(N)`` becomes a stop at ``timesteps_total`` (environment steps), never ``training_iteration N``.
"""

from __future__ import annotations

import math
from typing import Any

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from sagemaker_rl.coach_reader import CONFIG, STOP, CoachJob, Reader
from sagemaker_rl.coach_reader import steps as _steps

STEP_KINDS = ("TrainingSteps", "EnvironmentSteps", "Frames")
"""What Coach's training loop advances by one per environment step (frame_skip 1)."""

DQN_ITERATION_STEPS = 1000
"""RLlib's DQN samples at least this many environment steps per iteration (``min_sample_timesteps_per_iteration``)."""

PPO_ITERATION_STEPS = 4000
"""RLlib's PPO default train batch, when the preset set no ``num_consecutive_playing_steps`` in steps."""


def iteration_steps(algorithm: str, hyperparameters: dict[str, Any]) -> int:
    """The environment steps one rlrt iteration samples for the translated job."""
    if algorithm == "DQN":
        return int(hyperparameters.get(CONFIG + "min_sample_timesteps_per_iteration", DQN_ITERATION_STEPS))
    return int(hyperparameters.get(CONFIG + "train_batch_size_per_learner", PPO_ITERATION_STEPS))


def improve_budget(improve: tuple[str, int], between: tuple[str, int] | None) -> int:
    """What Coach's improve loop played, in ``improve``'s own unit (environment steps for ``TrainingSteps`` /
    ``EnvironmentSteps`` / ``Frames``, episodes for ``EnvironmentEpisodes``, seconds for ``Time``): ``improve`` rounded
    up to whole evaluation periods when a period counts the same unit; otherwise ``improve`` itself (the overshoot is
    one period at most, of a length Coach did not know beforehand either)."""
    kind, count = improve
    period = 0
    if between is not None and between[1] > 0:
        same = (between[0] in STEP_KINDS) == (kind in STEP_KINDS) and (kind in STEP_KINDS or between[0] == kind)
        period = between[1] if same else 0
    if kind == "Time" or period <= 0:
        return count
    return math.ceil(count / period) * period


def translate_schedule(reader: Reader, job: CoachJob, algorithm: str) -> None:
    """improve_steps -> the stop; heatup_steps -> learning starts (DQN) and more steps; evaluation -> the final
    evaluation. One line says the stop in environment steps and iterations."""
    improve = _steps(reader.get("improve_steps"))
    if improve is None:
        raise UserError(
            "The preset's schedule has no improve_steps: give one (or the hyperparameter "
            "rl.improve_steps:TrainingSteps)."
        )
    between = _steps(reader.get("steps_between_evaluation_periods"))
    heatup = _steps(reader.get("heatup_steps"))
    heatup_steps = heatup[1] if heatup and heatup[0] in STEP_KINDS else 0
    if heatup and heatup[1] > 0:
        if algorithm == "DQN" and heatup[0] in STEP_KINDS:
            job.hyperparameters[CONFIG + "num_steps_sampled_before_learning_starts"] = heatup[1]
        elif heatup[0] in STEP_KINDS:
            reader.note(
                "heatup_steps",
                f"{heatup[0]}({heatup[1]}): played as training steps (RLlib's {algorithm} "
                "learns from the first batch), counted in the stop as Coach played them",
            )
        else:
            reader.note(
                "heatup_steps",
                f"{heatup[0]}({heatup[1]}) not translated: RLlib's {algorithm} learns from the first batch",
            )
    budget = improve_budget(improve, between)
    batch = iteration_steps(algorithm, job.hyperparameters)
    shown = f"{improve[0]}({improve[1]})"
    if improve[0] == "Time":
        job.hyperparameters[STOP + hp.STOP_TIME_TOTAL_S] = budget
        job.notes.append(f"improve_steps: {shown} -> stop at time_total_s {budget}")
    elif improve[0] == "EnvironmentEpisodes":
        job.hyperparameters[STOP + "episodes_total"] = budget
        whole = between is not None and budget != improve[1]
        periods = f", whole evaluation periods of {between[0]}({between[1]})" if between and whole else ""
        job.notes.append(
            f"improve_steps: {shown} -> stop at episodes_total {budget} (Coach's training "
            f"episodes{periods}), in rlrt iterations of {batch} environment steps"
        )
    else:
        total = budget + heatup_steps
        job.hyperparameters[STOP + hp.STOP_TIMESTEPS_TOTAL] = total
        periods = (
            f", {budget // between[1]} evaluation periods of {between[0]}({between[1]})"
            if between and budget != improve[1]
            else ""
        )
        heat = f" + heatup {heatup_steps}" if heatup_steps else ""
        job.notes.append(
            f"improve_steps: {shown} -> stop at timesteps_total {total} environment steps "
            f"(Coach counted one training step per environment step: {budget}{periods}{heat}) = "
            f"{math.ceil(total / batch)} rlrt iterations of {batch} environment steps"
        )
    evaluation = _steps(reader.get("evaluation_steps"))
    if evaluation and evaluation[0] == "EnvironmentEpisodes":
        job.evaluation_episodes = evaluation[1]
    elif evaluation and evaluation[0] in STEP_KINDS:
        job.evaluation_steps = evaluation[1]  # Coach's evaluate(): at least n steps, never cutting an episode
    elif evaluation and evaluation[1] > 0:
        job.evaluation_episodes = 5
        reader.note("evaluation_steps", f"{evaluation[0]}({evaluation[1]}): rlrt evaluates whole episodes; 5")
    if (job.evaluation_episodes or job.evaluation_steps) and between:
        reader.note(
            "steps_between_evaluation_periods",
            f"{between[0]}({between[1]}): rounds the stop up to whole periods, as Coach's loop did; rlrt "
            "evaluates the exported policy once, after training",
        )
