"""DeepRacer's hyperparameter dialect: its training names (``batch_size``, ``discount_factor``, ...) and the RoboMaker
YAML's environment settings (``RACE_TYPE``, ``WORLD_NAME``, ...) onto rlrt's grammar."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any, Mapping

from envs.registry import UnknownEnvironmentError, canonical_env_id
from runtime.config import hyperparameters as hp
from runtime.config.presets import Preset
from runtime.config.values import ValueCheck

log = logging.getLogger(__name__)

ENV_ID = "DeepRacer-v0"
REWARD_FILES = ("reward_function.py", "customer_reward_function.py")
METADATA_FILE = "model_metadata.json"
TRAINING_YAML = "training_params.yaml"
TRAINING_METRICS = "training_metrics.json"
EPISODE_STEPS_ESTIMATE = 100
"""Steps per episode assumed when ``num_episodes_between_training`` sets RLlib's (step-counted) train batch."""
SIMTRACE_DIR = Path("iteration-data") / "training" / "training-simtrace"
EVAL_SIMTRACE_DIR = Path("iteration-data") / "training" / "evaluation-simtrace"


def _int(low: int) -> ValueCheck:
    return ValueCheck((int,), lambda v: v >= low, f"an integer >= {low}")


def _num(predicate: Any, meaning: str) -> ValueCheck:
    return ValueCheck((int, float), predicate, meaning)


def _choice(*choices: str) -> ValueCheck:
    return ValueCheck((str,), lambda v: v.strip().lower() in choices, "one of " + ", ".join(repr(c) for c in choices))


# DeepRacer training hyperparameter -> (check, where it goes). Targets starting "rl." are rlrt hyperparameters;
# "env:" keys go to env_config; "extra" values are recorded in the spec (and read by the hooks).
TRAINING_HYPERPARAMETERS: Mapping[str, tuple[ValueCheck, str]] = {
    "batch_size": (_int(1), "rl.training.config.minibatch_size"),
    "num_epochs": (_int(1), "rl.training.config.num_epochs"),
    "lr": (_num(lambda v: v > 0, "a number > 0"), "rl.training.config.lr"),
    "beta_entropy": (_num(lambda v: v >= 0, "a number >= 0"), "rl.training.config.entropy_coeff"),
    "discount_factor": (_num(lambda v: 0 <= v <= 1, "a number in [0, 1]"), "rl.training.config.gamma"),
    "num_simulation_workers": (_int(0), "rl.training.config.num_env_runners"),
    "num_episodes_between_training": (_int(1), "rl.training.config.train_batch_size_per_learner"),
    "stack_size": (_int(1), "env:stack_size"),
    "term_cond_avg_score": (_num(math.isfinite, "a finite number"), "rl.training.stop.episode_reward_mean"),
    "term_cond_max_episodes": (_int(1), "extra"),
    "exploration_type": (_choice("categorical", "e-greedy"), "extra"),
    "e_greedy_value": (_num(lambda v: 0 <= v <= 1, "a number in [0, 1]"), "extra"),
    "epsilon_steps": (_int(0), "extra"),
    "loss_type": (_choice("mean squared error", "huber"), "extra"),
    "sac_alpha": (_num(lambda v: v > 0, "a number > 0"), "extra"),
    "evaluation_interval": (_int(0), "extra"),
    "number_of_trials": (_int(1), "extra"),
}
# Passed by the seeds for S3/RoboMaker plumbing: accepted; the files they name come from the train channel.
ACCEPTED = (
    "s3_bucket",
    "s3_prefix",
    "aws_region",
    "model_metadata_s3_key",
    "reward_function_s3_source",
    "max_sample_count",
    "sampling_frequency",
    "pretrained_s3_bucket",
    "pretrained_s3_prefix",
    "pretrained_checkpoint",
    "metrics_s3_bucket",
    "metrics_s3_object_key",
    "simtrace_s3_bucket",
    "simtrace_s3_prefix",
    "training_job_arn",
    "robomaker_simulation_job_account_id",
    "kinesis_video_stream_name",
    "mp4_s3_bucket",
    "mp4_s3_object_prefix",
    "num_workers",
)
# Environment settings (RoboMaker YAML names, lower-cased) a hyperparameter may also give.
ENV_SETTINGS = (
    "world_name",
    "race_type",
    "number_of_obstacles",
    "min_distance_between_obstacles",
    "randomize_obstacle_locations",
    "number_of_bot_cars",
    "bot_car_speed",
    "is_lane_change",
    "lower_lane_change_time",
    "upper_lane_change_time",
    "lane_change_distance",
    "number_of_resets",
    "off_track_penalty",
    "collision_penalty",
    "reverse_dir",
    "alternate_driving_direction",
    "change_start_position",
    "round_robin_advance_dist",
    "start_position_offset",
)


# neural_network -> RLlib model_config for camera images / for vector sensors
def is_deepracer(env_id: str) -> bool:
    """Whether ``env_id`` (or an alias) is the DeepRacer environment."""
    try:
        return canonical_env_id(env_id) == ENV_ID
    except UnknownEnvironmentError:
        return False


def _coerce(value: Any, check: ValueCheck) -> Any:
    """The seeds pass every value as a string ("64", "0.0003"): turn numeric strings into numbers first."""
    if isinstance(value, str) and (int in check.types or float in check.types):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value
        if int in check.types and float not in check.types:
            return int(number) if number.is_integer() else number
        return int(number) if re.fullmatch(r"[-+]?\d+", text) else number
    return value


def rewrite_hyperparameters(
    preset: Preset, given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Map DeepRacer's hyperparameter names onto rlrt's (only for a DeepRacer preset; others pass through).

    An explicit rlrt key (``rl.training.config.lr``) wins over its DeepRacer name (``lr``).
    """
    if not is_deepracer(str(given.get(hp.ENV, preset.env))):
        return dict(given), {}, []
    out: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    env_config: dict[str, Any] = {}
    problems: list[str] = []
    mapped: dict[str, Any] = {}
    for key, value in given.items():
        lower = key.lower()
        if lower in TRAINING_HYPERPARAMETERS:
            check, target = TRAINING_HYPERPARAMETERS[lower]
            value = _coerce(value, check)
            problem = check.problem(key, value)
            if problem:
                problems.append(problem)
                continue
            if lower in ("exploration_type", "loss_type"):
                value = value.strip().lower()
            extras[lower] = value
            if target == "extra":
                continue
            if target.startswith("env:"):
                env_config[target[4:]] = value
            elif lower == "num_episodes_between_training":
                mapped[target] = max(int(value) * EPISODE_STEPS_ESTIMATE, 1)
            else:
                mapped[target] = value
        elif lower in ACCEPTED:
            extras[lower] = value
        elif lower in ENV_SETTINGS:
            env_config[lower] = value
        else:
            out[key] = value
    for target, value in mapped.items():
        out.setdefault(target, value)
    for key, value in env_config.items():
        out.setdefault(hp.ENV_CONFIG_PREFIX + key, value)
    if extras.get("exploration_type") == "e-greedy":
        log.warning(
            "exploration_type e-greedy: rlrt's PPO samples from its categorical policy; e_greedy_value and "
            "epsilon_steps are recorded but not used"
        )
    if extras.get("loss_type") == "huber":
        log.warning("loss_type huber: RLlib's PPO value loss is a squared error clipped at vf_clip_param")
    return out, {"deepracer": extras}, problems
