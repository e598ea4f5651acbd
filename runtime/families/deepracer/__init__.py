"""DeepRacer on the rlrt runtime (the environment itself is :mod:`envs.deepracer`, which knows nothing of SageMaker).

- :mod:`.dialect`: DeepRacer's hyperparameter names onto rlrt's grammar;
- :mod:`.files`: the reward function, ``model_metadata.json`` and ``training_params.yaml`` in the ``train`` channel,
  the network ``neural_network`` names, observation preprocessing;
- :mod:`.training`: the training hooks (``training_metrics.json``, simtrace, Coach lines);
- :mod:`.evaluation`: evaluation trials and head-to-head races (``evaluation_metrics.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, TextIO


class DeepRacerFamily:
    """The DeepRacer plug-in (see :mod:`runtime.families`)."""

    name = "deepracer"
    channels = ("train", "model", "model_2")

    def claims(self, env_id: str) -> bool:
        from runtime.families.deepracer.dialect import is_deepracer

        return is_deepracer(env_id)

    def rewrite_hyperparameters(self, preset: Any, given: Mapping[str, Any]) -> tuple[dict, dict, list]:
        from runtime.families.deepracer.dialect import rewrite_hyperparameters

        return rewrite_hyperparameters(preset, given)

    def training_hooks(self, job: Any, spec: Any) -> Any:
        from runtime.families.deepracer.training import DeepRacerHooks

        return DeepRacerHooks(job)

    def evaluate(self, job: Any, model: Path, hyperparameters: Mapping[str, Any], overrides: Mapping[str, Any],
                 out: TextIO | None = None, opponent: Path | None = None, trials: int | None = None) -> int:
        from runtime.families.deepracer.evaluation import evaluate_in_job

        return evaluate_in_job(job, model, hyperparameters, out, opponent=opponent, trials=trials)


FAMILY = DeepRacerFamily()
