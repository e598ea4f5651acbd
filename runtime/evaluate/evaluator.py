"""``rlrt evaluate``: play a trained model in its environment (the seeds' ``evaluate-ray.py`` job).

The model comes from the ``model`` channel (a folder written by ``rlrt train``, or a ``model.tar.gz``), or
``--model``. Its ``metadata.json`` ``framework`` picks the loader (:data:`LOADERS`: ``"module:function"`` taking
the model folder and its metadata, returning observation -> action); a framework without a loader is played
through its exported ONNX policy when it has one.

Hyperparameters (as in the seeds' evaluation jobs): ``evaluate_episodes`` (default 5), ``algorithm`` (checked
against the model's), ``env`` (default: the model's environment; the seeds' Roboschool ids map to PyBullet),
optional ``config`` (``{"env_config": {...}}``) and ``record_video_every`` (record every Nth episode; default 1,
0 = no videos) and ``seed``. Output per episode: ``Episode reward: <x>. Episode steps: <n>`` and a Coach-style
``Testing>`` line; at the end ``episode_reward_mean: <x>`` (and max/min/len). Videos go to
``output/intermediate/evaluation-episode-N.mp4``.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from runtime.config import hyperparameters as hp
from runtime.errors import UserError, run_job
from runtime.serving.model_store import OnnxPolicy, locate_model, read_metadata
from runtime.train.reporting import format_value

Actor = Callable[[np.ndarray], Any]

LOADERS: Mapping[str, str] = MappingProxyType({"rllib": "runtime.evaluate.evaluator:rllib_actor"})
"""metadata.json ``framework`` -> ``"module:function"`` of its loader (``(model_dir, metadata) -> Actor``)."""

MODEL_CHANNEL = "model"
DEFAULT_EPISODES = 5
CONFIG = "config"
EVALUATION_KEYS = (hp.EVALUATE_EPISODES, hp.EVALUATE_STEPS, hp.ALGORITHM, hp.EVAL_ENV, CONFIG, hp.RECORD_VIDEO_EVERY,
                   hp.SEED, hp.PRESET, *hp.PRESET_ALIASES)


def rllib_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """An RLlib model's deterministic policy, rebuilt from its checkpoint (the module plus its connectors)."""
    from runtime.backends.rllib.policy import serving_policy_from_checkpoint
    from runtime.evaluate.video import torch_actor

    policy, _, _ = serving_policy_from_checkpoint(model_dir / str(metadata.get("checkpoint") or "checkpoint"))
    return torch_actor(policy)


def onnx_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """Any model with an exported ONNX policy."""
    policy = OnnxPolicy(model_dir)

    def act(observation: np.ndarray) -> Any:
        action = policy.predict(np.asarray(observation, dtype=np.float32).reshape(1, -1))["actions"][0]
        return int(action) if np.ndim(action) == 0 else action

    return act


def load_actor(model_dir: Path, metadata: Mapping[str, Any]) -> Actor:
    """The actor for ``metadata['framework']``."""
    framework = str(metadata.get("framework", ""))
    target = LOADERS.get(framework)
    if target is None:
        if (metadata.get("serving") or {}).get("onnx"):
            return onnx_actor(model_dir, metadata)
        raise UserError(
            f"Cannot evaluate a model of framework {framework!r} from {model_dir}: known frameworks are "
            f"{', '.join(sorted(LOADERS))}, and the model has no exported ONNX policy."
        )
    module_name, function = target.split(":")
    return getattr(importlib.import_module(module_name), function)(model_dir, metadata)


def _check_hyperparameters(given: Mapping[str, Any]) -> dict[str, Any]:
    import difflib

    problems = []
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key.startswith(hp.SAGEMAKER_PREFIX):
            continue
        if key in hp.TOP_LEVEL_KEYS and key in EVALUATION_KEYS:
            problem = hp.check_value(key, value, hp.TOP_LEVEL_KEYS[key])
        elif key == CONFIG:
            problem = None if isinstance(value, dict) else f"'{key}' must be a JSON object such as " \
                                                          '{"env_config": {...}}'
        elif key.startswith(hp.ENV_CONFIG_PREFIX):
            values.setdefault(CONFIG, {}).setdefault("env_config", {})[key[len(hp.ENV_CONFIG_PREFIX):]] = value
            continue
        elif key.startswith(hp.CONFIG_PREFIX) or key.startswith(hp.STOP_PREFIX) or key in hp.TOP_LEVEL_KEYS:
            continue  # training settings in a shared hyperparameter set: not used by evaluation
        else:
            close = difflib.get_close_matches(key, EVALUATION_KEYS, n=1)
            problem = f"Unknown evaluation hyperparameter '{key}'." + (f" Did you mean '{close[0]}'?" if close else "")
        if problem:
            problems.append(problem)
        else:
            values[key] = value
    if problems:
        raise UserError("Invalid hyperparameter: " + "; ".join(problems))
    return values


def evaluate(model: Path, hyperparameters: Mapping[str, Any], intermediate_dir: Path, stream: Any = None) -> list[float]:
    """Play the episodes; print the seeds' lines; returns the episode rewards."""
    from envs.registry import UnknownEnvironmentError, canonical_env_id
    from runtime.evaluate.video import play_episode

    out = stream or sys.stdout
    settings = _check_hyperparameters(hyperparameters)
    model_dir = locate_model(model)
    metadata = read_metadata(model_dir)
    algorithm = settings.get(hp.ALGORITHM)
    if algorithm and metadata.get("algorithm") and str(algorithm).upper() != str(metadata["algorithm"]).upper():
        raise UserError(f"'algorithm' is {algorithm!r} but the model in {model_dir} was trained with "
                        f"{metadata['algorithm']!r}.")
    env_name = str(settings.get(hp.EVAL_ENV) or metadata.get("env") or "")
    try:
        env_id = canonical_env_id(env_name)
    except UnknownEnvironmentError as exc:
        raise UserError(str(exc)) from exc
    episodes = int(settings.get(hp.EVALUATE_EPISODES, DEFAULT_EPISODES))
    max_steps = settings.get(hp.EVALUATE_STEPS)
    video_every = int(settings.get(hp.RECORD_VIDEO_EVERY, 1))
    env_config = dict((settings.get(CONFIG) or {}).get("env_config") or {})
    trained_env_config = _trained_env_config(model_dir)
    env_config = {**trained_env_config, **env_config}
    seed = settings.get(hp.SEED)
    _check_observation_shape(env_id, env_config, metadata)
    actor = load_actor(model_dir, metadata)
    print(f"rlrt: evaluating {metadata.get('algorithm')} model from {model_dir} on {env_id} for {episodes} episode(s)",
          file=out, flush=True)
    rewards, lengths = [], []
    total_steps = 0
    for episode in range(1, episodes + 1):
        video = intermediate_dir / f"evaluation-episode-{episode:04d}.mp4" if video_every and (
            (episode - 1) % video_every == 0) else None
        result = play_episode(actor, env_id, env_config, video=video,
                              seed=None if seed is None else int(seed) + episode, max_steps=max_steps)
        rewards.append(result.reward)
        lengths.append(result.steps)
        total_steps += result.steps
        print(f"Episode reward: {result.reward}. Episode steps: {result.steps}", file=out)
        print(f"Testing> Name=main_level/agent, Worker=0, Episode={episode}, Total reward={result.reward:.2f}, "
              f"Steps={total_steps}, Training iteration=0", file=out, flush=True)
        if result.video is not None:
            print(f"rlrt: video {result.video} ({result.frames} frames)", file=out, flush=True)
    summary = {
        "episode_reward_mean": float(np.mean(rewards)),
        "episode_reward_max": float(np.max(rewards)),
        "episode_reward_min": float(np.min(rewards)),
        "episode_len_mean": float(np.mean(lengths)),
    }
    for key, value in summary.items():
        if math.isfinite(value):
            print(f"{key}: {format_value(value)}", file=out)
    out.flush()
    intermediate_dir.mkdir(parents=True, exist_ok=True)
    (intermediate_dir / "evaluation.json").write_text(json.dumps(
        {**summary, "episodes": episodes, "env": env_id, "rewards": rewards, "lengths": lengths}, indent=2))
    return rewards


def _trained_env_config(model_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((model_dir / "config.json").read_text()).get("env_config") or {})
    except (OSError, ValueError):
        return {}


def _check_observation_shape(env_id: str, env_config: Mapping[str, Any], metadata: Mapping[str, Any]) -> None:
    from envs.registry import make_env

    expected = (metadata.get("observation_space") or {}).get("shape")
    if not expected:
        return
    env = make_env(env_id, dict(env_config))
    try:
        shape = list(getattr(env.observation_space, "shape", []) or [])
    finally:
        env.close()
    if shape != list(expected):
        raise UserError(f"The model expects observations of shape {expected} ({metadata.get('env')}), but {env_id} "
                        f"gives {shape}. Evaluate it on the environment it was trained on.")


def _trained_on_deepracer(source: Path) -> bool:
    from envs.registry import canonical_env_id
    from runtime.serving.model_store import locate_model, read_metadata

    env_id = read_metadata(locate_model(source)).get("env") or ""
    try:
        return canonical_env_id(str(env_id)) == "DeepRacer-v0"
    except ValueError:
        return False


def run_evaluation_job(base_dir: Path | None, overrides: Mapping[str, Any], model: Path | None) -> int:
    """``rlrt evaluate`` through the single failure path."""
    from runtime.job.setup import find_base_dir
    from runtime.job.environment import load_environment, prepare_local_tree

    root, local = find_base_dir(base_dir, "evaluate")

    def job() -> int:
        if local:
            prepare_local_tree(root, overrides)
            print(f"rlrt: local job tree (laid out like /opt/ml): {root}", flush=True)
        env = load_environment(root)
        if env.failure_file.exists():
            env.failure_file.unlink()
        hyperparameters = {**env.hyperparameters, **({} if local else overrides)}
        source = model if model is not None else env.require_channel(MODEL_CHANNEL)
        if _trained_on_deepracer(source):
            # DeepRacer models race laps with the job's reward function and track: evaluation_metrics.json.
            from runtime.families.deepracer.evaluation import run_evaluation_job as run_deepracer_evaluation

            episodes = hyperparameters.get("evaluate_episodes")
            return run_deepracer_evaluation(root, source, None, int(episodes) if episodes else None,
                                            {k: v for k, v in overrides.items() if k != "evaluate_episodes"})
        evaluate(source, hyperparameters, env.intermediate_dir)
        return 0

    return run_job(job, lambda: root / "output" / "failure")


__all__: Sequence[str] = ["LOADERS", "evaluate", "load_actor", "run_evaluation_job"]
