"""``FAMILY`` of DeepRacer: its hyperparameter dialect, training hooks and evaluation (see
:class:`runtime.contracts.Family`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, TextIO

from runtime.config.presets import Preset
from runtime.config.spec import TrainingSpec
from runtime.contracts import Family
from runtime.families.deepracer.dialect import is_deepracer, rewrite_hyperparameters
from runtime.families.deepracer.evaluation import evaluate_in_job
from runtime.families.deepracer.training import DeepRacerHooks
from runtime.job.context import Job
from runtime.job.environment import JobEnvironment


class DeepRacerFamily(Family):
    """The DeepRacer plug-in."""

    name = "deepracer"
    channels = ("train", "model", "model_2")
    backends = ("rllib",)
    """Its hooks configure RLlib's AlgorithmConfig and its evaluation reads RLlib's RLModule checkpoint."""

    def claims(self, env_id: str) -> bool:
        return is_deepracer(env_id)

    def rewrite_hyperparameters(
        self, preset: Preset, given: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        return rewrite_hyperparameters(preset, given)

    def training_hooks(self, job: JobEnvironment, spec: TrainingSpec) -> DeepRacerHooks:
        return DeepRacerHooks(job)

    def evaluate(
        self,
        job: Job,
        model: Path,
        hyperparameters: Mapping[str, Any],
        overrides: Mapping[str, Any],
        out: TextIO | None = None,
        opponent: Path | None = None,
        trials: int | None = None,
        **options: Any,
    ) -> int:
        return evaluate_in_job(job, model, hyperparameters, out, opponent=opponent, trials=trials)


FAMILY = DeepRacerFamily()
