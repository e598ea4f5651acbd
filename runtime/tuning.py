"""``rlrt tune``: hyperparameter search over training jobs, with SageMaker HyperparameterTuner's grammar, on Ray Tune.

The input file (YAML or JSON) mirrors ``sagemaker.tuner.HyperparameterTuner``'s arguments::

    objective_metric_name: episode_reward_mean     # the only objective the training driver prints
    objective_type: Maximize                       # or Minimize
    max_jobs: 8                                    # trials in all
    max_parallel_jobs: 2                           # trials at a time
    strategy: Bayesian                             # Bayesian (Optuna's TPE), Random, or Grid (categorical ranges
                                                   # only: every combination once, in order; max_jobs optional)
    early_stopping_type: Auto                      # Auto (ASHA on training_iteration) or Off
    static_hyperparameters:                        # the estimator's hyperparameters, the same in every trial
      preset: cartpole-ppo
      rl.training.stop.time_total_s: 600
    hyperparameter_ranges:                         # ContinuousParameter / IntegerParameter / CategoricalParameter
      rl.training.config.kl_coeff: {type: Continuous, min_value: 0.5, max_value: 1.0}
      rl.training.config.num_sgd_iter: {type: Integer, min_value: 3, max_value: 50}
      rl.training.config.lr: {type: Continuous, min_value: 1.0e-5, max_value: 1.0e-2, scaling_type: Logarithmic}
      rl.training.config.gamma: {type: Continuous, min_value: 0.9, max_value: 0.999,
                                 scaling_type: ReverseLogarithmic}
      rl.training.config.vf_share_layers: {type: Categorical, values: [true, false]}

``hyperparameter_ranges`` may also be given in the CreateHyperParameterTuningJob API's shape
(``ParameterRanges: {ContinuousParameterRanges: [{Name, MinValue, MaxValue, ScalingType}], ...}``).
Scaling types: ``Linear``, ``Logarithmic`` (min > 0), ``ReverseLogarithmic`` (continuous only, 0 <= min < max < 1:
sampled as ``1 - loguniform(1 - max, 1 - min)``, dense near 1), and ``Auto`` (Logarithmic when min > 0 and
max / min >= 100, else Linear).

Each trial is one training job, exactly what SageMaker's tuner launches: ``python -m runtime.cli train`` in its own
``/opt/ml`` tree under the output folder, with the static and sampled hyperparameters in ``hyperparameters.json``.
The objective is read from the job's stdout metric lines (``episode_reward_mean: <float>``, SageMaker's regex), one
report per training iteration; the trial's objective is its last reported value, as in SageMaker. Results: a table
on stdout and in ``tuning_results.csv``, the best trial's hyperparameters in ``best_hyperparameters.json``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.names import BASE_DIR_ENV, NUM_CPUS_ENV, NUM_GPUS_ENV

OBJECTIVES = ("episode_reward_mean",)
OBJECTIVE_TYPES = {"maximize": "max", "minimize": "min"}
GRID = "Grid"
STRATEGIES = ("Bayesian", "Random", GRID)
EARLY_STOPPING = ("Auto", "Off")
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
PARAMETER_TYPES = ("Continuous", "Integer", "Categorical")
METRIC_LINE = re.compile(r"^(episode_reward_mean|training_iteration): ([-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?|nan)$")
RESULTS_CSV = "tuning_results.csv"
JOB_LOG = "job.log"
JOB_PID = "job.pid"
JOB_STOP_TIMEOUT_S = 90.0
BEST_JSON = "best_hyperparameters.json"
_KNOWN_KEYS = ("objective_metric_name", "objective_type", "max_jobs", "max_parallel_jobs", "strategy",
               "early_stopping_type", "static_hyperparameters", "hyperparameter_ranges", "cpus_per_job")


@dataclass(frozen=True)
class ParameterRange:
    """One of SageMaker's ContinuousParameter, IntegerParameter, CategoricalParameter."""

    name: str
    kind: str
    min_value: float | None = None
    max_value: float | None = None
    scaling_type: str = "Auto"
    values: tuple[Any, ...] = ()

    def effective_scaling(self) -> str:
        """``Auto`` resolved: Logarithmic for positive ranges spanning two orders of magnitude, else Linear."""
        if self.scaling_type != "Auto":
            return self.scaling_type
        assert self.min_value is not None and self.max_value is not None
        if self.min_value > 0 and self.max_value / self.min_value >= 100:
            return "Logarithmic"
        return "Linear"

    def tune_domain(self) -> Any:
        """The Ray Tune search domain (for ReverseLogarithmic, of ``1 - value``; see :meth:`value_from_sample`)."""
        from ray import tune

        if self.kind == "Categorical":
            return tune.choice(list(self.values))
        assert self.min_value is not None and self.max_value is not None
        scaling = self.effective_scaling()
        if self.kind == "Integer":
            low, high = int(self.min_value), int(self.max_value)
            return tune.lograndint(low, high + 1) if scaling == "Logarithmic" else tune.randint(low, high + 1)
        if scaling == "Logarithmic":
            return tune.loguniform(self.min_value, self.max_value)
        if scaling == "ReverseLogarithmic":
            return tune.loguniform(1.0 - self.max_value, 1.0 - self.min_value)
        return tune.uniform(self.min_value, self.max_value)

    def value_from_sample(self, sample: Any) -> Any:
        """The hyperparameter value for a sampled point of :meth:`tune_domain`."""
        if self.kind == "Integer":
            return int(sample)
        if self.kind == "Continuous" and self.effective_scaling() == "ReverseLogarithmic":
            return 1.0 - float(sample)
        if self.kind == "Continuous":
            return float(sample)
        return sample


@dataclass(frozen=True)
class TuningSpec:
    """A checked tuning request."""

    objective_metric_name: str
    objective_type: str
    max_jobs: int
    max_parallel_jobs: int
    strategy: str
    early_stopping_type: str
    static_hyperparameters: Mapping[str, Any]
    ranges: tuple[ParameterRange, ...]
    cpus_per_job: int = 1
    source: str = ""

    @property
    def mode(self) -> str:
        return OBJECTIVE_TYPES[self.objective_type.lower()]


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool):
        raise UserError(f"{where} must be a number, got {value!r}")
    try:
        number = float(value)  # SageMaker's SDK takes numbers or numeric strings
    except (TypeError, ValueError, OverflowError) as exc:
        raise UserError(f"{where} must be a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise UserError(f"{where} must be finite, got {value!r}")
    return number


def _parse_range(name: str, raw: Any) -> ParameterRange:
    where = f"hyperparameter_ranges.{name}"
    if not isinstance(raw, Mapping):
        raise UserError(f"{where} must be a mapping such as {{type: Continuous, min_value: 0.1, max_value: 0.4}}")
    raw = {str(k): v for k, v in raw.items()}
    unknown = set(raw) - {"type", "min_value", "max_value", "scaling_type", "values"}
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} (valid: type, min_value, max_value, "
                        "scaling_type, values)")
    kind = str(raw.get("type", "")).replace("Parameter", "")
    if kind not in PARAMETER_TYPES:
        raise UserError(f"{where}.type must be one of {', '.join(PARAMETER_TYPES)}, got {raw.get('type')!r}")
    if kind == "Categorical":
        values = raw.get("values")
        if not isinstance(values, (list, tuple)) or not values:
            raise UserError(f"{where}.values must be a non-empty list for a Categorical parameter")
        if "min_value" in raw or "max_value" in raw or "scaling_type" in raw:
            raise UserError(f"{where}: a Categorical parameter takes only 'values'")
        return ParameterRange(name, kind, values=tuple(values))
    if "values" in raw:
        raise UserError(f"{where}: a {kind} parameter takes min_value and max_value, not 'values'")
    for key in ("min_value", "max_value"):
        if key not in raw:
            raise UserError(f"{where}.{key} is missing")
    low, high = _number(f"{where}.min_value", raw["min_value"]), _number(f"{where}.max_value", raw["max_value"])
    if kind == "Integer" and (not low.is_integer() or not high.is_integer()):
        raise UserError(f"{where}: an Integer parameter needs integer bounds, got {raw['min_value']!r}, "
                        f"{raw['max_value']!r}")
    if not low < high:
        raise UserError(f"{where}: min_value ({low:g}) must be less than max_value ({high:g})")
    scaling = str(raw.get("scaling_type", "Auto"))
    if scaling not in SCALING_TYPES:
        raise UserError(f"{where}.scaling_type must be one of {', '.join(SCALING_TYPES)}, got {scaling!r}")
    if scaling == "Logarithmic" and low <= 0:
        raise UserError(f"{where}: Logarithmic scaling needs min_value > 0, got {low:g}")
    if scaling == "ReverseLogarithmic":
        if kind != "Continuous":
            raise UserError(f"{where}: ReverseLogarithmic scaling is for Continuous parameters only")
        if not 0 <= low < high < 1:
            raise UserError(f"{where}: ReverseLogarithmic scaling needs 0 <= min_value < max_value < 1")
    return ParameterRange(name, kind, low, high, scaling)


def _ranges_from_api(parameter_ranges: Mapping[str, Any]) -> dict[str, Any]:
    """CreateHyperParameterTuningJob's ParameterRanges -> our ``name: {type, ...}`` form."""
    out: dict[str, Any] = {}
    for api_key, kind in (("ContinuousParameterRanges", "Continuous"), ("IntegerParameterRanges", "Integer"),
                          ("CategoricalParameterRanges", "Categorical")):
        items = parameter_ranges.get(api_key, []) or []
        if not isinstance(items, list):
            raise UserError(f"ParameterRanges.{api_key} must be a list of ranges, got {items!r}")
        for item in items:
            if not isinstance(item, Mapping) or "Name" not in item:
                raise UserError(f"ParameterRanges.{api_key}: every entry needs a 'Name'")
            entry: dict[str, Any] = {"type": kind}
            for api_field, ours in (("MinValue", "min_value"), ("MaxValue", "max_value"),
                                    ("ScalingType", "scaling_type"), ("Values", "values")):
                if api_field in item:
                    entry[ours] = item[api_field]
            out[str(item["Name"])] = entry
    return out


def parse_tuning_spec(raw: Mapping[str, Any], source: str = "") -> TuningSpec:
    """Check a tuning request (the parsed input file); every problem is a UserError naming the field."""
    if not isinstance(raw, Mapping):
        raise UserError(f"{source or 'the tuning file'} must hold a mapping of HyperparameterTuner arguments")
    unknown = [k for k in raw if k not in _KNOWN_KEYS and k != "ParameterRanges"]
    if unknown:
        import difflib

        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), _KNOWN_KEYS, 1)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise UserError(f"Unknown tuning setting(s): {', '.join(hints)}. Valid: {', '.join(_KNOWN_KEYS)}.")
    objective = raw.get("objective_metric_name", "episode_reward_mean")
    if objective not in OBJECTIVES:
        raise UserError(f"objective_metric_name must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    objective_type = str(raw.get("objective_type", "Maximize"))
    if objective_type.lower() not in OBJECTIVE_TYPES:
        raise UserError(f"objective_type must be Maximize or Minimize, got {objective_type!r}")
    strategy = str(raw.get("strategy", "Bayesian"))
    if strategy not in STRATEGIES:
        raise UserError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    counts = {}
    for key, default in (("max_jobs", None), ("max_parallel_jobs", 1), ("cpus_per_job", 1)):
        if key == "max_jobs" and strategy == GRID and raw.get(key) is None:
            continue  # the grid's size, once the ranges are read
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{key} must be an integer >= 1, got {value!r}")
        counts[key] = value
    early = str(raw.get("early_stopping_type", "Auto"))
    if early not in EARLY_STOPPING:
        raise UserError(f"early_stopping_type must be one of {', '.join(EARLY_STOPPING)}, got {early!r}")
    static = raw.get("static_hyperparameters", {}) or {}
    if not isinstance(static, Mapping):
        raise UserError("static_hyperparameters must be a mapping of hyperparameter name -> value")
    ranges_raw: Any = raw.get("hyperparameter_ranges")
    if "ParameterRanges" in raw:
        if ranges_raw:
            raise UserError("Give hyperparameter_ranges or ParameterRanges, not both")
        if not isinstance(raw["ParameterRanges"], Mapping):
            raise UserError("ParameterRanges must be a mapping (the CreateHyperParameterTuningJob API's shape)")
        ranges_raw = _ranges_from_api(raw["ParameterRanges"])
    if not isinstance(ranges_raw, Mapping) or not ranges_raw:
        raise UserError("hyperparameter_ranges must name at least one hyperparameter to tune")
    ranges = tuple(_parse_range(str(name), value) for name, value in ranges_raw.items())
    both = sorted(set(static) & {r.name for r in ranges})
    if both:
        raise UserError(f"{', '.join(both)}: both static and tuned; give each hyperparameter in one place")
    if strategy == GRID:
        # As SageMaker's Grid strategy: categorical ranges only, each combination exactly once.
        not_categorical = [r.name for r in ranges if r.kind != "Categorical"]
        if not_categorical:
            raise UserError(f"strategy Grid takes Categorical ranges only; {', '.join(not_categorical)} "
                            "is not (use Bayesian or Random, or list its values)")
        size = math.prod(len(r.values) for r in ranges)
        if counts.setdefault("max_jobs", size) != size:
            raise UserError(f"strategy Grid runs every combination once: {size} jobs, but max_jobs is "
                            f"{counts['max_jobs']} (leave max_jobs out)")
    return TuningSpec(
        objective_metric_name=objective, objective_type=objective_type, max_jobs=counts["max_jobs"],
        max_parallel_jobs=counts["max_parallel_jobs"], strategy=strategy, early_stopping_type=early,
        static_hyperparameters=dict(static), ranges=ranges, cpus_per_job=counts["cpus_per_job"], source=source,
    )


def load_tuning_spec(path: Path) -> TuningSpec:
    """Read and check a tuning file (YAML or JSON)."""
    if not path.is_file():
        raise UserError(f"Tuning file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"Tuning file {path} is not valid YAML/JSON: {exc}") from exc
    except RecursionError:
        raise UserError(f"Tuning file {path} is not valid YAML/JSON: nested too deeply") from None
    return parse_tuning_spec(raw, str(path))


def check_hyperparameters(spec: TuningSpec) -> None:
    """Resolve the static hyperparameters with each range's bounds, so a bad name fails before any trial runs."""
    from runtime.job.setup import resolve_spec

    for r in spec.ranges:
        for value in (r.values if r.kind == "Categorical" else (r.min_value, r.max_value)):
            sample = int(value) if r.kind == "Integer" else value
            resolve_spec({**spec.static_hyperparameters, r.name: sample})


# --- one trial: one training job ------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    import ctypes

    os.setsid()
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
    except OSError:
        pass


def _start_trial_job(config: Mapping[str, Any], spec: TuningSpec, base: Path,
                     repo_root: str) -> tuple[subprocess.Popen, dict[str, Any]]:
    """Lay out the trial's ``/opt/ml`` tree with its hyperparameters and start ``rlrt train`` in it."""
    from runtime.job.environment import prepare_local_tree

    hyperparameters = dict(spec.static_hyperparameters)
    for i, r in enumerate(spec.ranges):
        hyperparameters[r.name] = r.value_from_sample(config[f"p{i}"])
    prepare_local_tree(base, hyperparameters)
    (base / "input" / "config" / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    env = {**os.environ, BASE_DIR_ENV: str(base), NUM_CPUS_ENV: str(spec.cpus_per_job), NUM_GPUS_ENV: "0",
           "PYTHONPATH": repo_root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for name in ("RAY_ADDRESS", "RAY_JOB_ID", "RAY_RAYLET_PID"):
        env.pop(name, None)
    with (base / JOB_LOG).open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "runtime.cli", "train"], cwd=repo_root, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)  # noqa: PLW1509
    (base / JOB_PID).write_text(f"{process.pid}\n")
    return process, hyperparameters


def trial_class() -> type:
    """The Ray Tune trainable: one trial = one training job; one Tune step = one training iteration of the job.

    A class (not a function) trainable, because stopping a trial early must wait for the job: ``cleanup`` sends
    it SIGTERM (as SageMaker's tuner stops a job) and waits while it saves a checkpoint and stops its own Ray.
    """
    from ray import tune

    class TrainingJobTrial(tune.Trainable):
        def setup(self, config: dict[str, Any], spec: TuningSpec, jobs_dir: str, repo_root: str) -> None:
            self.spec = spec
            self.base = Path(jobs_dir) / self.trial_id
            self.job_iteration = 0
            self.last: dict[str, Any] | None = None
            self.process, self.hyperparameters = _start_trial_job(config, spec, self.base, repo_root)
            self.lines = _follow(self.base / JOB_LOG, self.process)

        def step(self) -> dict[str, Any]:
            for line in self.lines:
                match = METRIC_LINE.match(line.strip())
                if not match:
                    continue
                if match.group(1) == "training_iteration":
                    self.job_iteration = int(float(match.group(2)))
                    continue
                value = float(match.group(2))
                if math.isfinite(value):
                    self.last = {self.spec.objective_metric_name: value, "job_iteration": self.job_iteration + 1,
                                 "hyperparameters": json.dumps(self.hyperparameters, sort_keys=True),
                                 "job_dir": str(self.base)}
                    return dict(self.last)
            code = self.process.wait()
            if code != 0:
                failure = self.base / "output" / "failure"
                reason = failure.read_text().strip() if failure.exists() else f"exit code {code}"
                raise RuntimeError(f"training job {self.base} failed: {reason}")
            if self.last is None:
                raise RuntimeError(f"training job {self.base} printed no {self.spec.objective_metric_name}")
            return {**self.last, "done": True}

        def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
            # The job keeps its own checkpoints in its tree; Tune's checkpoint only points at it.
            return {"job_dir": str(self.base)}

        def load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
            # setup() has already restarted the trial's job in the same tree (named after the trial id), and a
            # training job resumes from its tree's newest checkpoint: there is nothing else to restore.
            saved = Path(checkpoint.get("job_dir", self.base)) if checkpoint else self.base
            if saved != self.base:
                raise RuntimeError(f"trial checkpoint points at {saved}, but this trial's job runs in {self.base}")

        def cleanup(self) -> None:
            if self.process.poll() is None:  # early-stopped: stop the job as SageMaker's tuner does
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(JOB_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()

    return TrainingJobTrial


def _follow(path: Path, process: subprocess.Popen) -> Iterator[str]:
    """The lines of ``path`` as ``process`` writes them, until it exits."""
    buffer = ""
    with path.open() as reader:
        while True:
            chunk = reader.read()
            if chunk:
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                yield from lines
            elif process.poll() is not None:
                if buffer:
                    yield buffer
                return
            else:
                time.sleep(0.2)


def wait_for_jobs(jobs_dir: Path, timeout_s: float = 120.0) -> list[int]:
    """Wait for every trial's training job to exit (early-stopped ones save a checkpoint first); the PIDs still
    running after ``timeout_s`` are killed and returned."""
    import psutil

    deadline = time.monotonic() + timeout_s
    stuck = []
    for pid_file in sorted(jobs_dir.glob(f"*/{JOB_PID}")):
        try:
            job = psutil.Process(int(pid_file.read_text()))
            if job.create_time() > pid_file.stat().st_mtime + 5:
                continue  # the PID was reused by something else
            job.wait(max(0.1, deadline - time.monotonic()))
        except (psutil.NoSuchProcess, ValueError):
            continue
        except psutil.TimeoutExpired:
            stuck.append(job.pid)
            job.kill()
    return stuck


# --- the search -----------------------------------------------------------------------------------------------


@dataclass
class TuningOutcome:
    """What a tuning run produced."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    results_csv: Path | None = None
    best_json: Path | None = None


def run_tuning(spec: TuningSpec, output: Path, out: Any = None) -> TuningOutcome:
    """Run the search; write ``tuning_results.csv`` and ``best_hyperparameters.json`` under ``output``."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.basic_variant import BasicVariantGenerator
    from ray.tune.search.optuna import OptunaSearch

    out = out or sys.stdout
    check_hyperparameters(spec)
    output = output.resolve()
    jobs_dir = output / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    repo_root = str(Path(__file__).resolve().parent.parent)
    metric = spec.objective_metric_name
    if spec.strategy == GRID:
        space = {f"p{i}": tune.grid_search(list(r.values)) for i, r in enumerate(spec.ranges)}
        samples = 1  # one pass over the grid
    else:
        space = {f"p{i}": r.tune_domain() for i, r in enumerate(spec.ranges)}
        samples = spec.max_jobs
    if spec.strategy == "Bayesian":
        searcher: Any = ConcurrencyLimiter(OptunaSearch(metric=metric, mode=spec.mode, seed=0),
                                           max_concurrent=spec.max_parallel_jobs)
    else:
        searcher = BasicVariantGenerator(max_concurrent=spec.max_parallel_jobs, random_state=0)
    scheduler = None
    stop = spec.static_hyperparameters.get(hp.STOP_PREFIX + hp.STOP_TRAINING_ITERATION)
    if spec.early_stopping_type == "Auto":
        scheduler = ASHAScheduler(time_attr="job_iteration", max_t=int(stop) if isinstance(stop, int) else 1000,
                                  grace_period=1, reduction_factor=2)
    from tqdm import tqdm

    class _TrialProgress(tune.Callback):
        """A progress bar over finished trials (Tune's own output is silenced)."""

        def __init__(self) -> None:
            self.bar = tqdm(total=spec.max_jobs, desc="tuning", unit="job", file=sys.stderr)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.bar.update(1)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.bar.update(1)

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            self.bar.close()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    ray.init(num_cpus=spec.max_parallel_jobs * spec.cpus_per_job, include_dashboard=False,
             log_to_driver=False, configure_logging=False)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(trial_class(), spec=spec, jobs_dir=str(jobs_dir), repo_root=repo_root),
            {"cpu": spec.cpus_per_job},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(metric=metric, mode=spec.mode, search_alg=searcher, scheduler=scheduler,
                                        num_samples=samples, max_concurrent_trials=spec.max_parallel_jobs),
            run_config=tune.RunConfig(name="rlrt-tune", storage_path=str(output / "ray_results"), verbose=0,
                                      callbacks=[_TrialProgress()],
                                      failure_config=tune.FailureConfig(max_failures=0)),
        )
        grid = tuner.fit()
    finally:
        ray.shutdown()
        stuck = wait_for_jobs(jobs_dir)
        if stuck:
            print(f"rlrt: killed training jobs that did not stop within 120 s: {stuck}", file=out, flush=True)
    return _summarise(spec, grid, output, out)


def _summarise(spec: TuningSpec, grid: Any, output: Path, out: Any) -> TuningOutcome:
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        config = result.config or {}
        tuned = {r.name: r.value_from_sample(config[f"p{i}"]) for i, r in enumerate(spec.ranges) if f"p{i}" in config}
        value = metrics.get(spec.objective_metric_name)
        rows.append({
            "trial": metrics.get("trial_id") or Path(str(result.path)).name,
            **tuned,
            spec.objective_metric_name: value,
            "iterations": metrics.get("job_iteration"),
            "status": "error" if result.error else ("early-stopped" if _early_stopped(spec, metrics) else "completed"),
            "job_dir": metrics.get("job_dir", ""),
            "_hyperparameters": metrics.get("hyperparameters"),
        })
    finite = [r for r in rows if isinstance(r[spec.objective_metric_name], (int, float))
              and math.isfinite(r[spec.objective_metric_name])]
    pick = max if spec.mode == "max" else min
    best_row = pick(finite, key=lambda r: r[spec.objective_metric_name]) if finite else None
    output.mkdir(parents=True, exist_ok=True)
    columns = ["trial", *[r.name for r in spec.ranges], spec.objective_metric_name, "iterations", "status", "job_dir"]
    results_csv = output / RESULTS_CSV
    with results_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    _print_table(rows, columns, spec, out)
    outcome = TuningOutcome(rows=rows, results_csv=results_csv)
    if best_row is not None:
        best = {
            "objective_metric_name": spec.objective_metric_name,
            "objective_type": spec.objective_type,
            "objective_value": best_row[spec.objective_metric_name],
            "trial": best_row["trial"],
            "job_dir": best_row["job_dir"],
            "tuned_hyperparameters": {r.name: best_row[r.name] for r in spec.ranges if r.name in best_row},
            "hyperparameters": json.loads(best_row["_hyperparameters"]) if best_row["_hyperparameters"] else {},
        }
        outcome.best_json = output / BEST_JSON
        outcome.best_json.write_text(json.dumps(best, indent=2, sort_keys=True) + "\n")
        outcome.best = best
        print(f"rlrt: best trial {best['trial']}: {spec.objective_metric_name} = {best['objective_value']:g}; "
              f"hyperparameters in {outcome.best_json}", file=out, flush=True)
    else:
        print("rlrt: no trial reported a finite objective", file=out, flush=True)
    print(f"rlrt: results table in {results_csv}", file=out, flush=True)
    if best_row is None:
        raise UserError(f"No trial of the tuning job reported {spec.objective_metric_name}; see the job logs under "
                        f"{output / 'jobs'}")
    return outcome


def _early_stopped(spec: TuningSpec, metrics: Mapping[str, Any]) -> bool:
    stop = spec.static_hyperparameters.get(hp.STOP_PREFIX + hp.STOP_TRAINING_ITERATION)
    return isinstance(stop, int) and isinstance(metrics.get("job_iteration"), int) and metrics["job_iteration"] < stop


def _print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], spec: TuningSpec, out: Any) -> None:
    shown = [c for c in columns if c != "job_dir"]

    def cell(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else ("" if value is None else str(value))

    table = [[cell(r.get(c)) for c in shown] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c) for i, c in enumerate(shown)]
    print("  ".join(c.ljust(w) for c, w in zip(shown, widths)).rstrip(), file=out)
    for t in sorted(table, key=lambda t: t[0]):
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)).rstrip(), file=out)
    out.flush()


def run_tuning_job(file: Path, output: Path | None = None) -> int:
    """``rlrt tune FILE``: through the single failure path (``output/failure`` under the output folder)."""
    from runtime.errors import run_job

    folder = (output or Path("rlrt-tune") / time.strftime("%Y%m%d-%H%M%S")).resolve()

    def job() -> int:
        spec = load_tuning_spec(file)
        print(f"rlrt: tuning {len(spec.ranges)} hyperparameter(s) over {spec.max_jobs} job(s), "
              f"{spec.max_parallel_jobs} at a time ({spec.strategy}, early stopping {spec.early_stopping_type}); "
              f"{spec.objective_type} {spec.objective_metric_name}; output in {folder}", flush=True)
        run_tuning(spec, folder)
        return 0

    return run_job(job, lambda: folder / "output" / "failure")
