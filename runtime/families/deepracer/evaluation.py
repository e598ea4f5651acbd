"""DeepRacer evaluation: a trained model drives ``NUMBER_OF_TRIALS`` laps (``evaluation_metrics.json`` and an
evaluation simtrace), or two models race each other on one track (head-to-head).

A model is a folder laid out as ``/opt/ml/model`` after DeepRacer training (``checkpoint/``, ``model_metadata.json``,
``config.json``, ``reward_function.py``), or a ``model.tar.gz`` of one. The policy acts greedily (the most likely
discrete action; the mean of a continuous one).
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

import numpy as np
import yaml

from envs.deepracer.env import SIMTRACE_COLUMNS, DeepRacerConfigError, DeepRacerEnv
from envs.deepracer.metadata import MetadataError, load_metadata
from envs.deepracer.reward import RewardFunctionError
from envs.deepracer.tracks import TrackError
from runtime.backends.rllib.images import scale_observation
from runtime.backends.rllib.policy import MODULE_PATH, module_from_checkpoint
from runtime.errors import UserError
from runtime.evaluate.episodes import testing_line
from runtime.families.deepracer.dialect import ENV_SETTINGS
from runtime.names import CHANNEL_TRAIN

log = logging.getLogger(__name__)

EVALUATION_METRICS = "evaluation_metrics.json"
EVAL_SIMTRACE_DIR = Path("iteration-data") / "evaluation" / "evaluation-simtrace"
DEFAULT_TRIALS = 3
# env_config keys a trained model's config carries that an evaluation must not inherit
_TRAINING_ONLY = ("trace_dir", "phase", "change_start_position", "reward_function", "track_dirs", "model_metadata")


@dataclass
class DeepRacerPolicy:
    """A trained DeepRacer model: its RLlib module, model_metadata and the env_config it was trained with."""

    module: Any
    metadata: Any
    env_config: dict[str, Any]
    reward_function: Path | None
    folder: Path

    def act(self, observation: Any) -> Any:
        """The greedy action for one observation."""
        import torch  # heavy: torch (~1.5 s)

        obs = scale_observation(observation)
        if isinstance(obs, dict):
            obs = np.concatenate([np.asarray(obs[k], dtype=np.float32).ravel() for k in sorted(obs)])
        with torch.no_grad():
            out = self.module.forward_inference({"obs": torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])})
        logits = out["action_dist_inputs"][0].numpy()
        if not self.metadata.continuous:
            return int(np.argmax(logits))
        mean = np.clip(logits[: len(logits) // 2], -1.0, 1.0)
        low = np.array([self.metadata.steering_range[0], self.metadata.speed_range[0]])
        high = np.array([self.metadata.steering_range[1], self.metadata.speed_range[1]])
        return (low + (mean + 1.0) / 2.0 * (high - low)).astype(np.float32)


def _unpack(path: Path, scratch: Path) -> Path:
    """A model folder from a folder or a model.tar.gz (SageMaker's model artefact)."""
    if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        target = scratch / path.name.split(".")[0]
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path) as archive:
            archive.extractall(target, filter="data")
        return target
    if path.is_dir() and not (path / "checkpoint").is_dir():
        archives = sorted(path.glob("*.tar.gz"))
        if archives:
            return _unpack(archives[0], scratch)
    return path


def load_policy(path: Path, scratch: Path | None = None) -> DeepRacerPolicy:
    """Load a trained DeepRacer model (folder or model.tar.gz); :class:`UserError` naming what is missing."""
    scratch = scratch or Path(tempfile.mkdtemp(prefix="rlrt-deepracer-model-"))
    if not path.exists():
        raise UserError(f"DeepRacer model {path} does not exist.")
    folder = _unpack(path, scratch)
    module_dir = folder.joinpath("checkpoint", *MODULE_PATH)
    if not module_dir.is_dir():
        raise UserError(
            f"{folder} is not a trained rlrt DeepRacer model: {module_dir.relative_to(folder)} is missing "
            "(expected the /opt/ml/model folder of a deepracer-ppo training job, or its model.tar.gz)."
        )
    if not (folder / "model_metadata.json").is_file():
        raise UserError(f"{folder} has no model_metadata.json; it is not a DeepRacer model.")
    try:
        metadata = load_metadata(folder / "model_metadata.json")
    except MetadataError as exc:
        raise UserError(str(exc)) from exc
    module = module_from_checkpoint(module_dir)
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    env_config = {k: v for k, v in (config.get("env_config") or {}).items() if k not in _TRAINING_ONLY}
    reward = folder / "reward_function.py"
    return DeepRacerPolicy(module, metadata, env_config, reward if reward.is_file() else None, folder)


def _env_config(
    policy: DeepRacerPolicy, settings: Mapping[str, Any], trace_dir: Path, track_dirs: Sequence[Path]
) -> dict[str, Any]:
    config = {**policy.env_config, **{k.lower(): v for k, v in settings.items()}}
    config.update(
        {
            "phase": "evaluation",
            "change_start_position": False,
            "trace_dir": str(trace_dir),
            "model_metadata": policy.metadata.to_dict(),
            "track_dirs": [str(d) for d in track_dirs],
        }
    )
    if policy.reward_function is not None:
        config["reward_function"] = str(policy.reward_function)
    config.pop("number_of_trials", None)
    return config


def _entry(summary: Mapping[str, Any], trial: int) -> dict[str, Any]:
    keys = (
        "reward_score",
        "metric_time",
        "start_time",
        "elapsed_time_in_milliseconds",
        "completion_percentage",
        "episode_status",
        "crash_count",
        "immobilized_count",
        "off_track_count",
        "reversed_count",
        "reset_count",
    )
    return {**{k: summary[k] for k in keys}, "episode": trial, "trial": trial, "phase": "evaluation"}


def _write_outputs(out_dir: Path, entries: list[dict[str, Any]], trace: Path | None, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (name + ".tmp")
    tmp.write_text(json.dumps({"metrics": entries}, indent=1))
    tmp.replace(out_dir / name)
    simtrace = (
        out_dir
        / EVAL_SIMTRACE_DIR
        / ("0-iteration.csv" if name == EVALUATION_METRICS else f"0-iteration-{name.replace('.json', '')}.csv")
    )
    simtrace.parent.mkdir(parents=True, exist_ok=True)
    with simtrace.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SIMTRACE_COLUMNS)
        if trace is not None and trace.is_file():
            with trace.open(newline="", encoding="utf-8") as source:
                for row in csv.reader(source):
                    row[0] = str(int(row[0]) - 1)
                    writer.writerow(row)


def _make_env(config: Mapping[str, Any]) -> Any:
    try:
        return DeepRacerEnv(config)
    except (DeepRacerConfigError, MetadataError, RewardFunctionError, TrackError) as exc:
        raise UserError(str(exc)) from exc


def evaluate_model(
    model: Path,
    trials: int = DEFAULT_TRIALS,
    settings: Mapping[str, Any] | None = None,
    out_dir: Path | None = None,
    track_dirs: Sequence[Path] = (),
    stream: TextIO | None = None,
) -> list[dict[str, Any]]:
    """Drive ``trials`` laps with ``model``; write evaluation_metrics.json (+ simtrace) to ``out_dir`` if given."""
    out = stream or sys.stdout
    scratch = Path(tempfile.mkdtemp(prefix="rlrt-deepracer-eval-"))
    try:
        policy = load_policy(Path(model), scratch)
        env = _make_env(_env_config(policy, settings or {}, scratch / "trace", track_dirs))
        entries, steps = [], 0
        try:
            for trial in range(1, trials + 1):
                obs, _ = env.reset(seed=trial)
                done = False
                while not done:
                    obs, _, term, trunc, _ = env.step(policy.act(obs))
                    done = term or trunc
                summary = env.episode_summary(0)
                steps += summary["steps"]
                entries.append(_entry(summary, trial))
                print(testing_line(trial, summary["reward_total"], steps), file=out, flush=True)
                print(
                    f"rlrt: trial {trial}: {summary['episode_status']}, {summary['completion_percentage']}% in "
                    f"{summary['elapsed_time_in_milliseconds'] / 1000:.2f} s",
                    file=out,
                    flush=True,
                )
            env.flush_trace()
        except RewardFunctionError as exc:
            raise UserError(str(exc)) from exc
        if out_dir is not None:
            _write_outputs(out_dir, entries, env.trace_file(0), EVALUATION_METRICS)
        return entries
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def evaluate_head_to_head(
    model: Path,
    opponent: Path,
    trials: int = DEFAULT_TRIALS,
    settings: Mapping[str, Any] | None = None,
    out_dir: Path | None = None,
    track_dirs: Sequence[Path] = (),
    stream: TextIO | None = None,
) -> tuple[list[dict], list[dict]]:
    """Race ``model`` against ``opponent`` on one track, side by side from the start line; each car's trial ends
    on its own (lap, off track, crash: touching the other car is a crash for both). Writes
    ``evaluation_metrics.json`` (the first model) and ``evaluation_metrics_2.json`` (the second)."""
    out = stream or sys.stdout
    scratch = Path(tempfile.mkdtemp(prefix="rlrt-deepracer-h2h-"))
    try:
        first = load_policy(Path(model), scratch / "a")
        second = load_policy(Path(opponent), scratch / "b")
        config = _env_config(first, {**(settings or {})}, scratch / "trace", track_dirs)
        config["race_type"] = "TIME_TRIAL"  # the other car is the opponent; no bots or boxes
        env = _make_env(config)
        env.set_opponent(second.act, second.metadata)
        results: tuple[list[dict], list[dict]] = ([], [])
        steps = [0, 0]
        try:
            for trial in range(1, trials + 1):
                env.reset(seed=trial)
                while not all(agent.done for agent in env.agents):
                    actions = [
                        None if agent.done else (first, second)[i].act(env.observe(i))
                        for i, agent in enumerate(env.agents)
                    ]
                    env.step_cars(actions)
                for i in range(2):
                    summary = env.episode_summary(i)
                    steps[i] += summary["steps"]
                    results[i].append(_entry(summary, trial))
                    print(testing_line(trial, summary["reward_total"], steps[i], worker=i), file=out, flush=True)
                a, b = results[0][-1], results[1][-1]
                print(
                    f"rlrt: trial {trial}: model 1 {a['episode_status']} {a['completion_percentage']}% "
                    f"{a['elapsed_time_in_milliseconds'] / 1000:.2f} s; model 2 {b['episode_status']} "
                    f"{b['completion_percentage']}% {b['elapsed_time_in_milliseconds'] / 1000:.2f} s",
                    file=out,
                    flush=True,
                )
            env.flush_trace()
        except RewardFunctionError as exc:
            raise UserError(str(exc)) from exc
        if out_dir is not None:
            _write_outputs(out_dir, results[0], env.trace_file(0), EVALUATION_METRICS)
            _write_outputs(out_dir, results[1], env.trace_file(1), "evaluation_metrics_2.json")
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def evaluation_settings(job: Any, hyperparameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Evaluation settings: the train channel's evaluation_params.yaml (or training_params.yaml), then the job's
    hyperparameters (``NUMBER_OF_TRIALS``, ``WORLD_NAME``, ``RACE_TYPE``, ...; ``evaluate_episodes`` = trials)."""
    train_dir = job.env.channel_dir(CHANNEL_TRAIN)
    settings: dict[str, Any] = {}
    for name in ("evaluation_params.yaml", "training_params.yaml"):
        path = train_dir / name
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                raise UserError(f"Cannot read {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise UserError(f"{path} must hold a YAML mapping of NAME: value.")
            settings = {
                str(k).lower(): v for k, v in data.items() if str(k).lower() in ENV_SETTINGS + ("number_of_trials",)
            }
            break
    unknown = []
    given = job.hyperparameters if hyperparameters is None else hyperparameters
    for key, value in given.items():
        lower = key.lower()
        if lower in ENV_SETTINGS or lower == "number_of_trials":
            settings[lower] = value
        elif lower == "evaluate_episodes":
            settings["number_of_trials"] = value
        elif not key.startswith("sagemaker_"):
            unknown.append(key)
    if unknown:
        log.info("ignoring hyperparameters an evaluation does not use: %s", ", ".join(sorted(unknown)))
    return settings


def evaluate_in_job(
    job: Any,
    model: Path,
    hyperparameters: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
    opponent: Path | None = None,
    trials: int | None = None,
) -> int:
    """Evaluate ``model`` in ``job`` (the DeepRacer family's evaluation, reached through ``rlrt evaluate`` and its
    alias ``rlrt deepracer-evaluate``): ``model`` drives the trials, or races ``opponent`` (default: the ``model_2``
    channel); settings from ``hyperparameters`` (default the job's: ``NUMBER_OF_TRIALS``, ``WORLD_NAME``,
    ``RACE_TYPE``, ...) and the train channel's evaluation_params.yaml / training_params.yaml; outputs to
    ``output/intermediate/``."""
    out = stream or sys.stdout
    settings = evaluation_settings(job, hyperparameters)
    count = trials if trials is not None else settings.pop("number_of_trials", DEFAULT_TRIALS)
    settings.pop("number_of_trials", None)
    try:
        count = int(str(count))
        if count < 1:
            raise ValueError
    except ValueError:
        raise UserError(f"NUMBER_OF_TRIALS must be an integer >= 1, got {count!r}.") from None
    train_dir = job.env.channel_dir(CHANNEL_TRAIN)
    model_2 = job.env.channel_dir("model_2")
    second = opponent or (model_2 if model_2.is_dir() else None)
    tracks = [train_dir] if train_dir.is_dir() else []
    out_dir = job.env.intermediate_dir
    if second is not None:
        evaluate_head_to_head(model, second, count, settings, out_dir, tracks, stream=out)
    else:
        evaluate_model(model, count, settings, out_dir, tracks, stream=out)
    print(f"rlrt: evaluation metrics in {out_dir / EVALUATION_METRICS}", file=out, flush=True)
    return 0
