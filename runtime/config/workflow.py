"""The hyperparameters other commands and stages read (evaluation, the cluster, videos, warm start, tracking):
accepted and type-checked by :mod:`runtime.config.hyperparameters` with the training keys, so that one
hyperparameter set serves a whole workflow."""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from runtime.config.values import ValueCheck

EVALUATE_EPISODES = "evaluate_episodes"
EVALUATE_STEPS = "evaluate_steps"
EVALUATE_MAX_EPISODE_STEPS = "evaluate_max_episode_steps"
ALGORITHM = "algorithm"
EVAL_ENV = "env"
RL_CLUSTER_TYPE = "rl_cluster_type"
RL_NUM_INSTANCES_SECONDARY = "rl_num_instances_secondary"
RL_PRIMARY_ADDRESS = "rl_primary_address"
RECORD_VIDEO_EVERY = "record_video_every"
SAVE_MODEL = "save_model"
"""Coach's flag (the Batch RL seed passes ``save_model: 1``); accepted, rlrt always saves the model."""
PRETRAINED_MODEL = "pretrained_model"
"""Warm start: a model folder, ``model.tar.gz`` or checkpoint to start from (``pretrained``; train.warm_start)."""
TRACK = "track"
"""Experiment tracking beside TensorBoard (``rlrt train --track``; :mod:`runtime.train.tracking`)."""
TRACKERS = ("mlflow", "wandb")

WORKFLOW_KEYS: Mapping[str, ValueCheck] = MappingProxyType(
    {
        EVALUATE_EPISODES: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        EVALUATE_STEPS: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1"),
        EVALUATE_MAX_EPISODE_STEPS: ValueCheck((int,), lambda v: v >= 1, "an integer >= 1 (steps per episode)"),
        ALGORITHM: ValueCheck((str,), lambda v: bool(v.strip()), "an algorithm name"),
        EVAL_ENV: ValueCheck((str,), lambda v: bool(v.strip()), "an environment id"),
        RL_CLUSTER_TYPE: ValueCheck((str,), lambda v: bool(v.strip()), "a cluster type"),
        RL_NUM_INSTANCES_SECONDARY: ValueCheck((int,), lambda v: v >= 0, "an integer >= 0"),
        RL_PRIMARY_ADDRESS: ValueCheck((str,), lambda v: bool(v.strip()), "the primary job's Ray head as HOST[:PORT]"),
        RECORD_VIDEO_EVERY: ValueCheck((int,), lambda v: v >= 0, "an integer >= 0 (0 turns videos off)"),
        SAVE_MODEL: ValueCheck((int, bool), lambda v: v in (0, 1), "0 or 1"),
        PRETRAINED_MODEL: ValueCheck((str,), lambda v: bool(v.strip()), "a model folder, model.tar.gz or checkpoint"),
        TRACK: ValueCheck((str,), lambda v: v in TRACKERS, f"one of {', '.join(TRACKERS)} (experiment tracking)"),
    }
)
