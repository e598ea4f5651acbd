"""DeepRacer on the rlrt runtime: hyperparameter names, the job's files, the network, and the training outputs.

- :func:`rewrite_hyperparameters` maps DeepRacer's training hyperparameters (``batch_size``, ``discount_factor``,
  ``num_simulation_workers``, ...) and the RoboMaker YAML's environment settings (``RACE_TYPE``, ``WORLD_NAME``, ...)
  onto rlrt's grammar; :func:`runtime.config.hyperparameters.resolve` calls it once the preset is known.
- :class:`DeepRacerHooks` plugs into :func:`runtime.train.driver.train`: it finds the reward function,
  ``model_metadata.json``, ``training_params.yaml`` and a track in the ``train`` channel and hands their paths to the
  environment through ``env_config``; picks the network from ``neural_network``; and writes DeepRacer's outputs:
  ``training_metrics.json``, a simtrace CSV per iteration and the Coach-style ``Training>``, ``Policy training>``
  and ``Testing>`` lines.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, TextIO

from envs.deepracer.env import SIMTRACE_COLUMNS, DeepRacerConfigError, DeepRacerEnv
from envs.deepracer.metadata import MetadataError, ModelMetadata, load_metadata
from envs.deepracer.reward import RewardFunctionError
from envs.deepracer.tracks import TrackError
from runtime.backends.rllib.images import scaled_frames
from runtime.config.spec import TrainingSpec
from runtime.contracts import TrainingHooks
from runtime.errors import UserError
from runtime.families.deepracer.dialect import EVAL_SIMTRACE_DIR, METADATA_FILE, SIMTRACE_DIR, TRAINING_METRICS
from runtime.families.deepracer.files import (
    deepracer_errors,
    find_metadata,
    find_reward_function,
    model_config_for,
    prefix_root,
    pretrained_model,
    read_training_yaml,
)
from runtime.families.deepracer.s3 import OutputSync, open_store, stage_inputs
from runtime.job.environment import CHANNEL_TRAIN, JobEnvironment
from runtime.train.checkpoints import CheckpointManager, TrainingState
from runtime.train.reporting import IterationMetrics

if TYPE_CHECKING:
    from runtime.family_contract import AlgorithmConfig

log = logging.getLogger(__name__)


# ----- training hooks -------------------------------------------------------------------------------------------
class DeepRacerHooks(TrainingHooks):
    """DeepRacer's files in, DeepRacer's outputs out (see the module docstring)."""

    coach_line_per_iteration = False

    def __init__(self, env: JobEnvironment, stream: TextIO | None = None) -> None:
        self.job = env
        self.trace_dir = Path(tempfile.mkdtemp(prefix="rlrt-deepracer-trace-"))
        self.metrics_file = env.intermediate_dir / TRAINING_METRICS
        self.entries: list[dict[str, Any]] = []
        self.episode_ids: dict[tuple[str, str, int], int] = {}
        self.counters = {"training": 0, "evaluation": 0}
        self.steps = {"training": 0, "evaluation": 0}
        self.workers: dict[str, int] = {}
        self.metadata_path: Path | None = None
        self.reward_path: Path | None = None
        self.metadata: Any = None
        self.max_episodes: int | None = None
        self.evaluation_interval = 1
        self.env_config: dict[str, Any] = {}
        self.inputs_dir: Path | None = None
        self.s3_dir: Path | None = None
        self.s3_sync: Any = None

    # ---- before training
    def prepare(self, spec: TrainingSpec) -> TrainingSpec:
        extras = dict(spec.extras.get("deepracer", {}) or {})
        channel = self.job.channel_dir(CHANNEL_TRAIN)
        train_dir = channel if channel.is_dir() else None
        store = open_store(extras, sys.stdout)
        if store is not None:  # optional real S3: the inputs from the notebook's keys, the outputs back
            self.s3_dir = Path(tempfile.mkdtemp(prefix="rlrt-deepracer-s3-"))
            train_dir = stage_inputs(store, extras, self.s3_dir)
            self.s3_sync = OutputSync(store, extras, self.job.intermediate_dir)
        self.inputs_dir = train_dir
        self.reward_path = find_reward_function(train_dir, extras)
        self.metadata_path = find_metadata(train_dir, extras)
        try:
            self.metadata = load_metadata(self.metadata_path) if self.metadata_path else ModelMetadata()
        except MetadataError as exc:
            raise UserError(str(exc)) from exc
        if self.metadata.training_algorithm == "sac":
            raise UserError(
                f"{self.metadata_path}: training_algorithm 'sac' is not supported by rlrt's DeepRacer training yet; "
                "use 'clipped_ppo' (the deepracer-ppo preset)."
            )
        if self.reward_path is not None or self.metadata_path is not None:
            print(
                f"rlrt: DeepRacer files: reward function {self.reward_path or '(none)'}, model metadata "
                f"{self.metadata_path or '(none)'}",
                flush=True,
            )
        if self.reward_path is None:
            print(
                "rlrt: no reward function in the train channel: using the documentation's "
                "'follow the centre line' example",
                flush=True,
            )
        if self.metadata_path is None:
            print(
                "rlrt: no model_metadata.json in the train channel: using DeepRacer's default (5 discrete actions "
                "at 0.6 m/s, FRONT_FACING_CAMERA)",
                flush=True,
            )
        root = prefix_root(train_dir, extras)
        yaml_settings = read_training_yaml(root)
        trials = yaml_settings.pop("number_of_trials", None)
        env_config: dict[str, Any] = {**yaml_settings, **dict(spec.env_config)}
        env_config["model_metadata"] = self.metadata.to_dict()
        if self.reward_path:
            env_config["reward_function"] = str(self.reward_path)
        if train_dir is not None:
            env_config["track_dirs"] = list(
                dict.fromkeys([str(root), str(train_dir)] + ([str(channel)] if channel.is_dir() else []))
            )
        env_config.setdefault("phase", "training")
        # Try the configuration here, where errors are plain: build, reset and drive a few steps.
        try:
            probe = DeepRacerEnv(env_config)
            probe.reset(seed=0)
            for _ in range(5):
                _, _, term, trunc, _ = probe.step(probe.action_space.sample())
                if term or trunc:
                    probe.reset()
            probe.close()
        except (RewardFunctionError, DeepRacerConfigError, MetadataError, TrackError) as exc:
            raise UserError(str(exc)) from exc
        env_config["trace_dir"] = str(self.trace_dir)
        self.env_config = env_config
        self._resume_metrics()
        self.max_episodes = extras.get("term_cond_max_episodes")
        self.evaluation_interval = int(extras.get("evaluation_interval", 1))
        config = dict(spec.config)
        model = {**model_config_for(self.metadata), **dict(config.get("model_config") or {})}
        config["model_config"] = model
        new_extras = dict(spec.extras)
        new_extras["deepracer"] = {**extras, **({"number_of_trials": trials} if trials is not None else {})}
        print(
            f"rlrt: DeepRacer track '{env_config.get('world_name', 'oval')}', race type "
            f"{str(env_config.get('race_type', 'TIME_TRIAL')).upper()}, sensors {list(self.metadata.sensors)}, "
            f"{self.metadata.action_space_type} actions, {self.metadata.neural_network}",
            flush=True,
        )
        return replace(spec, config=config, env_config=env_config, extras=new_extras)

    def pretrained(self, spec: TrainingSpec) -> tuple[Path, str] | None:
        return pretrained_model(self.inputs_dir, spec.extras.get("deepracer", {}) or {})

    def configure(self, config: AlgorithmConfig) -> None:
        config.env_runners(env_to_module_connector=scaled_frames)
        config.fault_tolerance(restart_failed_env_runners=False)
        if self.evaluation_interval > 0:
            eval_env = {**self.env_config, "phase": "evaluation", "change_start_position": False}
            config.evaluation(
                evaluation_interval=self.evaluation_interval,
                evaluation_duration=1,
                evaluation_duration_unit="episodes",
                evaluation_num_env_runners=0,
                evaluation_config={"explore": False, "env_config": eval_env},
            )

    def _resume_metrics(self) -> None:
        """A job resuming from a checkpoint continues training_metrics.json and its episode counters."""
        latest = CheckpointManager(self.job.checkpoint_dir).latest()
        if latest is None or not self.metrics_file.is_file():
            return
        try:
            self.entries = list(json.loads(self.metrics_file.read_text())["metrics"])
        except (ValueError, KeyError, TypeError):
            log.warning("could not read %s; starting a new one", self.metrics_file)
            return
        for phase in self.counters:
            self.counters[phase] = max([e["episode"] for e in self.entries if e.get("phase") == phase], default=0)
        try:
            self.steps["training"] = CheckpointManager.read_state(latest).timesteps_total
        except (OSError, ValueError, TypeError):  # a damaged checkpoint: the driver falls back and says so
            log.warning("could not read the state of %s", latest)

    # ---- during training
    def _drain(self) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, list[str]]]]]:
        episodes: list[dict[str, Any]] = []
        rows: dict[str, list[tuple[str, list[str]]]] = {"training": [], "evaluation": []}
        for path in sorted(self.trace_dir.glob("episodes-*.jsonl")):
            taken = path.with_name(path.name + ".draining")
            path.rename(taken)
            episodes += [json.loads(line) for line in taken.read_text(encoding="utf-8").splitlines() if line.strip()]
            taken.unlink()
        for path in sorted(self.trace_dir.glob("simtrace-*.csv")):
            phase, source = path.stem.split("-", 2)[1:]
            taken = path.with_name(path.name + ".draining")
            path.rename(taken)
            with taken.open(newline="", encoding="utf-8") as handle:
                rows[phase] += [(source, row) for row in csv.reader(handle)]
            taken.unlink()
        episodes.sort(key=lambda e: e["metric_time"])
        return episodes, rows

    def _episode_number(self, phase: str, source: str, local: int) -> int:
        key = (phase, source, int(local))
        if key not in self.episode_ids:
            self.counters[phase] += 1
            self.episode_ids[key] = self.counters[phase]
        return self.episode_ids[key]

    def on_iteration(
        self, result: Mapping[str, Any], state: TrainingState, metrics: IterationMetrics, out: TextIO
    ) -> None:
        episodes, rows = self._drain()
        iteration = state.training_iteration
        trial = {"training": 0, "evaluation": 0}
        lines = []
        for ep in episodes:
            phase = ep["phase"]
            number = self._episode_number(phase, ep["source"], ep["local_episode"])
            worker = self.workers.setdefault(ep["source"], len(self.workers)) if phase == "training" else 0
            trial[phase] += 1
            self.steps[phase] += int(ep["steps"])
            self.entries.append(
                {
                    "reward_score": ep["reward_score"],
                    "metric_time": ep["metric_time"],
                    "start_time": ep["start_time"],
                    "elapsed_time_in_milliseconds": ep["elapsed_time_in_milliseconds"],
                    "episode": number,
                    "trial": trial[phase],
                    "phase": phase,
                    "completion_percentage": ep["completion_percentage"],
                    "episode_status": ep["episode_status"],
                }
            )
            tag = "Training" if phase == "training" else "Testing"
            lines.append(
                f"{tag}> Name=main_level/agent, Worker={worker}, Episode={number}, "
                f"Total reward={ep['reward_total']:.2f}, Steps={self.steps['training']}, "
                f"Training iteration={iteration}"
            )
        policy = policy_training_line(result, iteration)
        if policy:
            lines.append(policy)
        if lines:
            out.write("\n".join(lines) + "\n")
            out.flush()
        self._write_metrics()
        for phase, folder in (("training", SIMTRACE_DIR), ("evaluation", EVAL_SIMTRACE_DIR)):
            if rows[phase] or phase == "training":
                self._write_simtrace(
                    self.job.intermediate_dir / folder / f"{iteration - 1}-iteration.csv", phase, rows[phase]
                )
        if self.s3_sync is not None:
            self.s3_sync.sync()

    def _write_metrics(self) -> None:
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.metrics_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"metrics": self.entries, "version": 2.0, "best_model_metric": "progress"}))
        tmp.replace(self.metrics_file)

    def _write_simtrace(self, path: Path, phase: str, rows: list[tuple[str, list[str]]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(SIMTRACE_COLUMNS)
            for source, row in rows:
                row = list(row)
                row[0] = str(self._episode_number(phase, source, int(row[0])) - 1)
                writer.writerow(row)

    def stop_reason(self, state: TrainingState, metrics: IterationMetrics) -> str | None:
        if self.max_episodes and self.counters["training"] >= self.max_episodes:
            return f"term_cond_max_episodes: {self.counters['training']} episodes >= {self.max_episodes}"
        return None

    def translate_error(self, exc: BaseException) -> BaseException | None:
        message = deepracer_errors(exc)
        if message is None:
            # a simulation worker that failed on a user error left it in the trace folder before it died
            found = sorted(self.trace_dir.glob("error-*.txt"))
            message = found[0].read_text(encoding="utf-8") if found else None
        return UserError(message) if message else None

    def on_export(self, model_dir: Path) -> None:
        """DeepRacer keeps model_metadata.json (and the reward function) next to the model."""
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / METADATA_FILE).write_text(json.dumps(self.metadata.to_dict(), indent=2))
        if self.reward_path is not None:
            shutil.copyfile(self.reward_path, model_dir / "reward_function.py")
        if self.metrics_file.is_file():
            shutil.copyfile(self.metrics_file, model_dir / TRAINING_METRICS)
        if self.s3_sync is not None:
            self.s3_sync.sync()

    def close(self) -> None:
        if self.s3_sync is not None:
            self.s3_sync.sync()  # what came after the export: the final video
        shutil.rmtree(self.trace_dir, ignore_errors=True)
        if self.s3_dir is not None:
            shutil.rmtree(self.s3_dir, ignore_errors=True)


def policy_training_line(result: Mapping[str, Any], iteration: int) -> str | None:
    """Coach's ``Policy training>`` line from an RLlib result (None when the learner reported nothing)."""
    learner = ((result.get("learners") or {}).get("default_policy")) or {}
    if not learner:
        return None

    def pick(*names: str) -> float:
        for name in names:
            if name in learner:
                try:
                    return float(learner[name])
                except (TypeError, ValueError):
                    continue
        return math.nan

    lr = pick("default_optimizer_learning_rate", "curr_lr")
    return (
        f"Policy training> Surrogate loss={pick('policy_loss'):.6g}, KL divergence={pick('mean_kl_loss'):.6g}, "
        f"Entropy={pick('entropy'):.6g}, training epoch={iteration - 1}, learning_rate={lr:.6g}"
    )
