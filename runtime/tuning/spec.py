"""The tuning request: SageMaker HyperparameterTuner's arguments (see :mod:`runtime.tuning`), parsed and checked."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from runtime.contracts import Plugins
from runtime.errors import UserError
from runtime.paths import FILE, guarded, require_file
from runtime.job.setup import resolve_spec

OBJECTIVES = ("episode_reward_mean",)
OBJECTIVE_TYPES = {"maximize": "max", "minimize": "min"}
GRID = "Grid"
STRATEGIES = ("Bayesian", "Random", GRID)
EARLY_STOPPING = ("Auto", "Off")
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
PARAMETER_TYPES = ("Continuous", "Integer", "Categorical")
MAX_JOBS = 500
"""The most trials one search runs: SageMaker's HyperparameterTuner limit (MaxNumberOfTrainingJobs). A larger
``max_jobs`` (10**12) is no plan a run could finish; it is refused, as SageMaker refuses it, not cut silently."""
_KNOWN_KEYS = (
    "objective_metric_name",
    "objective_type",
    "max_jobs",
    "max_parallel_jobs",
    "strategy",
    "early_stopping_type",
    "static_hyperparameters",
    "hyperparameter_ranges",
    "cpus_per_job",
)


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
        from ray import tune  # heavy: Ray and RLlib (~4 s)

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


def _range_bound(where: str, value: Any) -> float:
    """A range's ``min_value`` or ``max_value`` as a finite float (a number or a numeric string)."""
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
        raise UserError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))} (valid: type, min_value, max_value, "
            "scaling_type, values)"
        )
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
    low = _range_bound(f"{where}.min_value", raw["min_value"])
    high = _range_bound(f"{where}.max_value", raw["max_value"])
    if kind == "Integer" and (not low.is_integer() or not high.is_integer()):
        raise UserError(
            f"{where}: an Integer parameter needs integer bounds, got {raw['min_value']!r}, {raw['max_value']!r}"
        )
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
    for api_key, kind in (
        ("ContinuousParameterRanges", "Continuous"),
        ("IntegerParameterRanges", "Integer"),
        ("CategoricalParameterRanges", "Categorical"),
    ):
        items = parameter_ranges.get(api_key, []) or []
        if not isinstance(items, list):
            raise UserError(f"ParameterRanges.{api_key} must be a list of ranges, got {items!r}")
        for item in items:
            if not isinstance(item, Mapping) or "Name" not in item:
                raise UserError(f"ParameterRanges.{api_key}: every entry needs a 'Name'")
            entry: dict[str, Any] = {"type": kind}
            for api_field, ours in (
                ("MinValue", "min_value"),
                ("MaxValue", "max_value"),
                ("ScalingType", "scaling_type"),
                ("Values", "values"),
            ):
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
        if key == "max_jobs" and value > MAX_JOBS:
            raise UserError(
                f"max_jobs is {value}, over the bound of {MAX_JOBS} trials a search may run (SageMaker's "
                f"HyperparameterTuner limit): give max_jobs from 1 to {MAX_JOBS}, or split the search"
            )
        counts[key] = value
    early_raw = raw.get("early_stopping_type", "Auto")
    # YAML 1.1 (PyYAML) reads an unquoted `Off` as false: the value SageMaker's tuner calls "Off".
    early = "Off" if early_raw is False else str(early_raw)
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
            raise UserError(
                f"strategy Grid takes Categorical ranges only; {', '.join(not_categorical)} "
                "is not (use Bayesian or Random, or list its values)"
            )
        size = math.prod(len(r.values) for r in ranges)
        if size > MAX_JOBS:
            raise UserError(
                f"strategy Grid runs every combination once: {size} jobs, over the bound of {MAX_JOBS} "
                "trials a search may run (SageMaker's HyperparameterTuner limit): list fewer values, or "
                "use Bayesian or Random with max_jobs"
            )
        if counts.setdefault("max_jobs", size) != size:
            raise UserError(
                f"strategy Grid runs every combination once: {size} jobs, but max_jobs is "
                f"{counts['max_jobs']} (leave max_jobs out)"
            )
    return TuningSpec(
        objective_metric_name=objective,
        objective_type=objective_type,
        max_jobs=counts["max_jobs"],
        max_parallel_jobs=counts["max_parallel_jobs"],
        strategy=strategy,
        early_stopping_type=early,
        static_hyperparameters=dict(static),
        ranges=ranges,
        cpus_per_job=counts["cpus_per_job"],
        source=source,
    )


def load_tuning_spec(path: Path) -> TuningSpec:
    """Read and check a tuning file (YAML or JSON)."""
    require_file(path, "The tuning file")
    try:
        with guarded(path, "The tuning file", FILE):
            text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"Tuning file {path} is not valid YAML/JSON: {exc}") from exc
    except RecursionError:
        raise UserError(f"Tuning file {path} is not valid YAML/JSON: nested too deeply") from None
    return parse_tuning_spec(raw, str(path))


def check_hyperparameters(spec: TuningSpec, plugins: Plugins) -> None:
    """Resolve the static hyperparameters with each range's bounds, so a bad name fails before any trial runs."""
    for r in spec.ranges:
        for value in r.values if r.kind == "Categorical" else (r.min_value, r.max_value):
            sample = int(value) if r.kind == "Integer" else value
            resolve_spec({**spec.static_hyperparameters, r.name: sample}, plugins)
