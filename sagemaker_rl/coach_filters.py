"""A Coach preset's filters and video settings in an rlrt job (:mod:`sagemaker_rl.coach_translate`).

An ``ObservationNormalizationFilter`` (in the agent's ``input_filter`` or ``pre_network_filter``) becomes rlrt's
``observation_filter: MeanStdFilter`` (RLlib's running mean and std of the observations, an env-to-module connector),
which the exported model applies too (its statistics are baked in: the served model takes raw observations). A
``RewardRescaleFilter`` becomes rlrt's ``reward_scale`` (:mod:`runtime.backends.rllib.reward_scale`): the learner
trains on the scaled rewards while the reported returns and the pass bar stay the environment's own, as Coach's.
Other filters are named "not translated".
``VisualizationParameters.dump_gifs`` / ``dump_mp4`` film the evaluation episodes after training (Coach's test phase)
besides rlrt's rollout videos during training.
"""

from __future__ import annotations

from typing import Any

from sagemaker_rl.coach_reader import CoachJob, Reader, class_name

MEAN_STD_CLIP = 10.0
"""RLlib's ``MeanStdFilter`` clips the normalised observations at plus and minus this (its ``clip_by_value``)."""


def translate_filters(reader: Reader, config: dict[str, Any]) -> None:
    """The agent's ``input_filter`` and ``pre_network_filter``: observation normalisation -> ``observation_filter``,
    reward rescaling -> ``reward_scale``; every other filter is named in a line."""
    for part in ("input_filter", "pre_network_filter"):
        path = f"agent_params.{part}"
        given = reader.get(path)
        if given is None:
            continue
        for observation, filters in (getattr(given, "observation_filters", None) or {}).items():
            for name, one in filters.items():
                where = f"{path}.observation_filters.{observation}.{name}"
                if class_name(one) == "ObservationNormalizationFilter" and observation == "observation":
                    config["observation_filter"] = "MeanStdFilter"
                    clip = f"[{float(one.clip_min):g}, {float(one.clip_max):g}]"
                    reader.note(
                        where,
                        f"ObservationNormalizationFilter -> observation_filter MeanStdFilter (RLlib's "
                        "running mean and std, applied by the exported model too; it clips at "
                        f"[-{MEAN_STD_CLIP:g}, {MEAN_STD_CLIP:g}] where Coach clipped at {clip})",
                    )
                else:
                    reader.note(where, f"{class_name(one)} not translated")
        for name, one in (getattr(given, "reward_filters", None) or {}).items():
            where = f"{path}.reward_filters.{name}"
            if class_name(one) == "RewardRescaleFilter":
                factor = float(config.get("reward_scale", 1.0)) * float(one.rescale_factor)
                config["reward_scale"] = factor
                reader.note(
                    where,
                    f"RewardRescaleFilter({float(one.rescale_factor):g}) -> reward_scale {factor:g} "
                    "(the learner trains on the scaled rewards; rlrt reports the environment's own, "
                    "as Coach did)",
                )
            else:
                reader.note(where, f"{class_name(one)} not translated")


def translate_videos(reader: Reader, job: CoachJob) -> None:
    """``dump_gifs`` / ``dump_mp4`` -> videos (mp4) of the evaluation episodes; both False: rlrt's defaults."""
    wanted = [name for name in ("dump_gifs", "dump_mp4") if reader.get(f"visualization_parameters.{name}")]
    if not wanted:
        return
    job.videos = True
    job.gifs = "dump_gifs" in wanted
    gifs = " (and GIF copies in output/intermediate/gifs/, named as Coach named them)" if job.gifs else ""
    reader.notes.append(
        f"visualization_parameters.{' and '.join(wanted)}: True -> mp4 videos of the evaluation "
        f"episodes after training (Coach's test phase) in output/intermediate{gifs}, besides rlrt's "
        "rollout videos during training"
    )
