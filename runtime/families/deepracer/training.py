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

import json
import logging
import math
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, TextIO

import numpy as np

from runtime.config import hyperparameters as hp
from runtime.train.checkpoints import TrainingState
from runtime.errors import UserError
from runtime.config.presets import Preset
from runtime.train.reporting import IterationMetrics
from runtime.job.environment import CHANNEL_TRAIN, JobEnvironment
from runtime.train.driver import TrainingHooks

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

_Check = hp._Check


def _int(low: int) -> _Check:
    return ((int,), lambda v: v >= low, f"an integer >= {low}")


def _num(predicate: Any, meaning: str) -> _Check:
    return ((int, float), predicate, meaning)


def _choice(*choices: str) -> _Check:
    return ((str,), lambda v: v.strip().lower() in choices, "one of " + ", ".join(repr(c) for c in choices))


# DeepRacer training hyperparameter -> (check, where it goes). Targets starting "rl." are rlrt hyperparameters;
# "env:" keys go to env_config; "extra" values are recorded in the spec (and read by the hooks).
TRAINING_HYPERPARAMETERS: Mapping[str, tuple[_Check, str]] = {
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
ACCEPTED = ("s3_bucket", "s3_prefix", "aws_region", "model_metadata_s3_key", "reward_function_s3_source",
            "max_sample_count", "sampling_frequency", "pretrained_s3_bucket", "pretrained_s3_prefix",
            "pretrained_checkpoint", "metrics_s3_bucket", "metrics_s3_object_key", "simtrace_s3_bucket",
            "simtrace_s3_prefix", "training_job_arn", "robomaker_simulation_job_account_id",
            "kinesis_video_stream_name", "mp4_s3_bucket", "mp4_s3_object_prefix", "num_workers")
# Environment settings (RoboMaker YAML names, lower-cased) a hyperparameter may also give.
ENV_SETTINGS = ("world_name", "race_type", "number_of_obstacles", "min_distance_between_obstacles",
                "randomize_obstacle_locations", "number_of_bot_cars", "bot_car_speed", "is_lane_change",
                "lower_lane_change_time", "upper_lane_change_time", "lane_change_distance", "number_of_resets",
                "off_track_penalty", "collision_penalty", "reverse_dir", "alternate_driving_direction",
                "change_start_position", "round_robin_advance_dist", "start_position_offset")

# neural_network -> RLlib model_config for camera images / for vector sensors
CNN_FILTERS: Mapping[str, list] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": [[32, 8, 4], [64, 4, 2], [64, 3, 1]],
    "DEEP_CONVOLUTIONAL_NETWORK": [[32, 8, 4], [32, 4, 2], [64, 4, 2], [64, 3, 1]],
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": [[32, 5, 2], [32, 3, 1], [64, 3, 2], [64, 3, 1], [128, 3, 2], [128, 3, 1]],
}
CNN_HEADS: Mapping[str, list] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": [64],
    "DEEP_CONVOLUTIONAL_NETWORK": [256],
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": [512],
}
MLP_HIDDENS: Mapping[str, list] = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": [64, 64],
    "DEEP_CONVOLUTIONAL_NETWORK": [128, 128],
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": [256, 256, 256],
}
CAMERAS = ("FRONT_FACING_CAMERA", "STEREO_CAMERAS")


def is_deepracer(env_id: str) -> bool:
    """Whether ``env_id`` (or an alias) is the DeepRacer environment."""
    from envs.registry import UnknownEnvironmentError, canonical_env_id

    try:
        return canonical_env_id(env_id) == ENV_ID
    except UnknownEnvironmentError:
        return False


def _coerce(value: Any, check: _Check) -> Any:
    """The seeds pass every value as a string ("64", "0.0003"): turn numeric strings into numbers first."""
    if isinstance(value, str) and (int in check[0] or float in check[0]):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value
        if int in check[0] and float not in check[0]:
            return int(number) if number.is_integer() else number
        return int(number) if re.fullmatch(r"[-+]?\d+", text) else number
    return value


def rewrite_hyperparameters(preset: Preset, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
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
            problem = hp.check_value(key, value, check)
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
        log.warning("exploration_type e-greedy: rlrt's PPO samples from its categorical policy; e_greedy_value and "
                    "epsilon_steps are recorded but not used")
    if extras.get("loss_type") == "huber":
        log.warning("loss_type huber: RLlib's PPO value loss is a squared error clipped at vf_clip_param")
    return out, {"deepracer": extras}, problems


# ----- the job's files ------------------------------------------------------------------------------------------
def _basename(value: Any) -> str | None:
    return Path(str(value)).name if value else None


def find_reward_function(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """The reward function file in the train channel (the ``reward_function_s3_source`` basename first)."""
    named = _basename(extras.get("reward_function_s3_source"))
    if named:
        if train_dir is None or not (train_dir / named).is_file():
            raise UserError(
                f"reward_function_s3_source names '{named}', but the train channel "
                f"({train_dir or 'absent'}) has no such file. Put the reward function there."
            )
        return train_dir / named
    for name in REWARD_FILES:
        if train_dir is not None and (train_dir / name).is_file():
            return train_dir / name
    return None


def find_metadata(train_dir: Path | None, extras: Mapping[str, Any]) -> Path | None:
    """model_metadata.json in the train channel (or the basename of ``model_metadata_s3_key``)."""
    named = _basename(extras.get("model_metadata_s3_key")) or METADATA_FILE
    if train_dir is not None and (train_dir / named).is_file():
        return train_dir / named
    if extras.get("model_metadata_s3_key"):
        raise UserError(f"model_metadata_s3_key names '{named}', but the train channel ({train_dir or 'absent'}) "
                        "has no such file.")
    return None


def read_training_yaml(train_dir: Path | None) -> dict[str, Any]:
    """Environment settings from training_params.yaml (the RoboMaker YAML), lower-cased; other keys ignored."""
    if train_dir is None or not (train_dir / TRAINING_YAML).is_file():
        return {}
    import yaml

    path = train_dir / TRAINING_YAML
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a YAML mapping of NAME: value.")
    settings = {str(k).lower(): v for k, v in data.items() if str(k).lower() in ENV_SETTINGS + ("number_of_trials",)}
    return settings


def model_config_for(metadata: Any) -> dict[str, Any]:
    """RLlib model_config for the sensors and ``neural_network`` of ``metadata``."""
    network = metadata.neural_network
    sensors = set(metadata.sensors)
    if len(sensors) == 1 and sensors <= set(CAMERAS):
        return {"conv_filters": CNN_FILTERS[network], "conv_activation": "relu", "head_fcnet_hiddens": CNN_HEADS[network],
                "vf_share_layers": True}
    return {"fcnet_hiddens": MLP_HIDDENS[network], "fcnet_activation": "tanh", "vf_share_layers": False}


def deepracer_errors(exc: BaseException) -> str | None:
    """The message of a DeepRacer user error anywhere in ``exc`` (also inside a Ray task error's text)."""
    from envs.deepracer.env import DeepRacerConfigError
    from envs.deepracer.metadata import MetadataError
    from envs.deepracer.reward import RewardFunctionError
    from envs.deepracer.tracks import TrackError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (RewardFunctionError, DeepRacerConfigError, MetadataError, TrackError)):
            return str(seen)
        seen = seen.__cause__ or getattr(seen, "cause", None) or seen.__context__
        if seen is exc:
            break
    matches = re.findall(r"(?:RewardFunctionError|DeepRacerConfigError|MetadataError|TrackError): (.+)", str(exc))
    return matches[-1].strip() if matches else None


# ----- observation preprocessing (shared by training and evaluation) ---------------------------------------------
def scale_observation(observation: Any) -> Any:
    """Camera images (uint8) -> float32 in [0, 1]; other sensors unchanged."""
    if isinstance(observation, dict):
        return {k: scale_observation(v) for k, v in observation.items()}
    array = np.asarray(observation)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return array


def _scaled_space(space: Any) -> Any:
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return spaces.Dict({k: _scaled_space(v) for k, v in space.spaces.items()})
    if isinstance(space, spaces.Box) and space.dtype == np.uint8:
        return spaces.Box(0.0, 1.0, space.shape, np.float32)
    return space


def image_scaler(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    """Env-to-module connectors: camera frames scaled to [0, 1]; Dict observations (several sensors) flattened."""
    from ray.rllib.connectors.env_to_module.flatten_observations import FlattenObservations
    from ray.rllib.connectors.env_to_module.observation_preprocessor import SingleAgentObservationPreprocessor

    class ScaleImages(SingleAgentObservationPreprocessor):
        def recompute_output_observation_space(self, input_observation_space: Any, input_action_space: Any) -> Any:
            return _scaled_space(input_observation_space)

        def preprocess(self, observation: Any, episode: Any) -> Any:
            return scale_observation(observation)

    from gymnasium import spaces as gym_spaces

    observation_space = getattr(env, "single_observation_space", None) or getattr(env, "observation_space", None)
    pieces = [ScaleImages()]
    if isinstance(observation_space, gym_spaces.Dict):
        pieces.append(FlattenObservations(multi_agent=False))
    return pieces


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

    # ---- before training
    def prepare(self, spec: hp.TrainingSpec) -> hp.TrainingSpec:
        from envs.deepracer.env import DeepRacerConfigError, DeepRacerEnv
        from envs.deepracer.metadata import MetadataError, ModelMetadata, load_metadata
        from envs.deepracer.reward import RewardFunctionError
        from envs.deepracer.tracks import TrackError

        extras = dict(spec.extras.get("deepracer", {}) or {})
        train_dir = self.job.channel_dir(CHANNEL_TRAIN)
        train_dir = train_dir if train_dir.is_dir() else None
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
        if self.reward_path is None:
            print("rlrt: no reward function in the train channel: using the documentation's "
                  "'follow the centre line' example", flush=True)
        if self.metadata_path is None:
            print("rlrt: no model_metadata.json in the train channel: using DeepRacer's default (5 discrete actions "
                  "at 0.6 m/s, FRONT_FACING_CAMERA)", flush=True)
        yaml_settings = read_training_yaml(train_dir)
        trials = yaml_settings.pop("number_of_trials", None)
        env_config: dict[str, Any] = {**yaml_settings, **dict(spec.env_config)}
        env_config["model_metadata"] = self.metadata.to_dict()
        if self.reward_path:
            env_config["reward_function"] = str(self.reward_path)
        if train_dir is not None:
            env_config["track_dirs"] = [str(train_dir)]
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
        print(f"rlrt: DeepRacer track '{env_config.get('world_name', 'oval')}', race type "
              f"{str(env_config.get('race_type', 'TIME_TRIAL')).upper()}, sensors {list(self.metadata.sensors)}, "
              f"{self.metadata.action_space_type} actions, {self.metadata.neural_network}", flush=True)
        return replace(spec, config=config, env_config=env_config, extras=new_extras)

    def configure(self, config: Any) -> None:
        config.env_runners(env_to_module_connector=image_scaler)
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
        from runtime.train.checkpoints import CheckpointManager

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
        self.steps["training"] = CheckpointManager.read_state(latest).timesteps_total

    # ---- during training
    def _drain(self) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, list[str]]]]]:
        episodes: list[dict[str, Any]] = []
        rows: dict[str, list[tuple[str, list[str]]]] = {"training": [], "evaluation": []}
        import csv

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

    def on_iteration(self, algo: Any, result: Mapping[str, Any], state: TrainingState, metrics: IterationMetrics,
                     out: TextIO) -> None:
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
            self.entries.append({
                "reward_score": ep["reward_score"], "metric_time": ep["metric_time"], "start_time": ep["start_time"],
                "elapsed_time_in_milliseconds": ep["elapsed_time_in_milliseconds"], "episode": number,
                "trial": trial[phase], "phase": phase, "completion_percentage": ep["completion_percentage"],
                "episode_status": ep["episode_status"],
            })
            tag = "Training" if phase == "training" else "Testing"
            lines.append(f"{tag}> Name=main_level/agent, Worker={worker}, Episode={number}, "
                         f"Total reward={ep['reward_total']:.2f}, Steps={self.steps['training']}, "
                         f"Training iteration={iteration}")
        policy = policy_training_line(result, iteration)
        if policy:
            lines.append(policy)
        if lines:
            out.write("\n".join(lines) + "\n")
            out.flush()
        self._write_metrics()
        for phase, folder in (("training", SIMTRACE_DIR), ("evaluation", EVAL_SIMTRACE_DIR)):
            if rows[phase] or phase == "training":
                self._write_simtrace(self.job.intermediate_dir / folder / f"{iteration - 1}-iteration.csv", phase,
                                     rows[phase])

    def _write_metrics(self) -> None:
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.metrics_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"metrics": self.entries, "version": 2.0, "best_model_metric": "progress"}))
        tmp.replace(self.metrics_file)

    def _write_simtrace(self, path: Path, phase: str, rows: list[tuple[str, list[str]]]) -> None:
        import csv

        from envs.deepracer.env import SIMTRACE_COLUMNS

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

    def close(self) -> None:
        shutil.rmtree(self.trace_dir, ignore_errors=True)


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
    return (f"Policy training> Surrogate loss={pick('policy_loss'):.6g}, KL divergence={pick('mean_kl_loss'):.6g}, "
            f"Entropy={pick('entropy'):.6g}, training epoch={iteration - 1}, learning_rate={lr:.6g}")


def hooks_for(env: JobEnvironment, spec: hp.TrainingSpec) -> TrainingHooks | None:
    """DeepRacer hooks when ``spec`` trains the DeepRacer environment, else None."""
    return DeepRacerHooks(env) if is_deepracer(spec.env) else None
