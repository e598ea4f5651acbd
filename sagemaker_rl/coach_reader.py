"""What :mod:`sagemaker_rl.coach_translate` and :mod:`sagemaker_rl.coach_batch` share: the job a Coach preset
becomes (:class:`CoachJob`), the reader that marks what was translated (:class:`Reader`), the layer schemes, and the
comparison with Coach's defaults that names every setting no translation read (:func:`untranslated`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterator, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from sagemaker_rl.coach_values import checked, where

CONFIG = hp.CONFIG_PREFIX
STOP = hp.STOP_PREFIX
MAIN = "agent_params.network_wrappers.main"
# Coach's layer schemes (rl_coach/architectures/tensorflow_components: vector_embedder.py, fc_middleware.py).
EMBEDDER_SCHEMES = {"Empty": [], "Shallow": [128], "Medium": [256], "Deep": [128, 128, 128]}
MIDDLEWARE_SCHEMES = {"Empty": [], "Shallow": [64], "Medium": [512], "Deep": [128, 128, 128]}


@dataclass
class CoachJob:
    """What the translation made of a preset."""

    hyperparameters: dict[str, Any]
    algorithm: str
    env: str
    pass_bar: float | None = None
    evaluation_episodes: int = 0
    evaluation_steps: int = 0
    """Coach's evaluation phase counted in environment steps (``evaluation_steps = EnvironmentSteps(n)``): at least
    n steps, the episode that crosses them played to its end."""
    notes: list[str] = field(default_factory=list)
    """One line per setting mapped approximately or not translated."""
    user_env: bool = False
    """``env`` is ``module:Class`` in source_dir (Coach's ``level``), to be registered before the job trains."""
    dataset: str | None = None
    """A Batch RL preset's ``CsvDataset`` path, as written (the launcher finds it: :mod:`sagemaker_rl.coach_batch`)."""
    spaces: tuple[int, int] | None = None
    """A Batch RL preset's ``SpacesDefinition``: (observation values, discrete actions; -1: continuous)."""
    videos: bool = False
    """Film the evaluation episodes after training (the preset's ``dump_gifs`` / ``dump_mp4``)."""
    gifs: bool = False
    """And a GIF copy of each video in ``output/intermediate/gifs/`` (``dump_gifs``: the notebooks' gif cells)."""

    def preset_document(self, name: str, coach_serving: bool) -> dict[str, Any]:
        """The rlrt preset file that trains this job (its settings come as the job's hyperparameters);
        ``coach_serving``: the model answers as Coach's MXNet serving did (``serving: coach``)."""
        bar = (
            {}
            if self.pass_bar is None
            else {
                "pass_bar": {
                    "metric": "episode_reward_mean",
                    "value": self.pass_bar,
                    "source": "the preset's PresetValidationParameters.min_reward_threshold",
                }
            }
        )
        return {
            "name": name,
            "description": f"the Coach preset {name}.py",
            "env": self.env,
            "algorithm": self.algorithm,
            "config": {},
            "stop": {},
            **bar,
            **({"serving": "coach"} if coach_serving else {}),
        }


class Reader:
    """The graph manager, with the attribute paths translated so far (the rest of what the preset set is noted).
    ``origins``: the settings the job's hyperparameters set, each with the hyperparameter's name
    (:func:`sagemaker_rl.coach_values.hyperparameter_origins`)."""

    def __init__(self, graph_manager: Any, origins: Mapping[str, str] | None = None) -> None:
        self.gm = graph_manager
        self.origins = dict(origins or {})
        self.used: set[str] = set()
        self.notes: list[str] = []

    def get(self, path: str, mark: bool = True) -> Any:
        """The value at ``path`` (``agent_params.network_wrappers.main.learning_rate``), marked as translated
        unless ``mark`` is False (a container whose parts are read one by one). Every value read is checked here
        (:func:`sagemaker_rl.coach_values.checked`): a bad one is a :class:`UserError` in the preset's names, saying
        where it was set."""
        if mark:
            self.used.add(path)
        obj, done = self.gm, ""
        for part in path.split("."):
            try:
                obj = (
                    obj[part]
                    if isinstance(obj, dict)
                    else obj[int(part)]
                    if isinstance(obj, list)
                    else getattr(obj, part)
                )
            except (AttributeError, KeyError, IndexError, TypeError, ValueError):
                held = f"'{done}' is {_short(obj)}" if done else f"the graph manager is {class_name(obj)}"
                raise UserError(
                    f"{held}, which has no '{part}' (rlrt reads {path}, as Coach's parameters hold it)"
                    f"{self.where(done)}."
                ) from None
            done = f"{done}.{part}" if done else part
        value, problem = checked(path, obj)
        if problem is not None:
            source = where(self.gm, path, self.origins)
            raise UserError(f"{problem} ({source})." if source else f"{problem}.")
        return value

    def where(self, path: str) -> str:
        """`` (file, line N)`` or `` (the hyperparameter rl.x)`` for the setting at ``path``; '' when unknown."""
        source = where(self.gm, path, self.origins)
        return f" ({source})" if source else ""

    def note(self, path: str, why: str) -> None:
        """Mark ``path`` as read, with a line saying how (approximately, or not at all)."""
        self.used.add(path)
        self.notes.append(f"{path}: {why}")


def steps(value: Any) -> tuple[str, int] | None:
    """``("EnvironmentSteps", 100)`` for ``EnvironmentSteps(100)``; None for None."""
    if value is None:
        return None
    return type(value).__name__, int(value.num_steps)


def class_name(obj: Any) -> str:
    return type(obj).__name__


def scheme_units(
    reader: Reader, where: str, schemes: dict[str, list[int]], convolutions: list[list[Any]] | None = None
) -> list[int]:
    """The hidden sizes of the ``scheme`` (a list of ``Dense`` or a scheme name) of the embedder or middleware at
    ``where``. Leading ``Conv2d`` layers go to ``convolutions`` as RLlib's ``conv_filters`` entries when it is given
    (an embedder of an image); otherwise a layer other than ``Dense`` is a :class:`UserError`."""
    path = f"{where}.scheme"
    scheme = reader.get(path, mark=False)
    if isinstance(scheme, Enum) and str(scheme.value) in schemes:
        return list(schemes[str(scheme.value)])
    if not isinstance(scheme, (list, tuple)):
        raise UserError(
            f"'{path}' must be a scheme ({', '.join(schemes)}) or a list of layers, got {scheme!r}{reader.where(path)}."
        )
    units: list[int] = []
    for index, layer in enumerate(scheme):
        at = f"{path}.{index}"
        if class_name(layer) == "Conv2d" and convolutions is not None and not units:
            # Coach's Conv2d is TensorFlow's conv2d: channels last, 'valid' padding (RLlib's default is 'same').
            size = reader.get(f"{at}.kernel_size", mark=False)
            kernel = [int(k) for k in size] if isinstance(size, (list, tuple)) else [int(size), int(size)]
            stride = reader.get(f"{at}.strides", mark=False)
            stride = [int(s) for s in stride] if isinstance(stride, (list, tuple)) else int(stride)
            convolutions.append([int(reader.get(f"{at}.num_filters", mark=False)), kernel, stride, "valid"])
        elif class_name(layer) == "Dense":
            units.append(int(reader.get(f"{at}.units", mark=False)))
        else:
            where_ok = (
                "Conv2d layers before its Dense layers (an image observation's embedder)"
                if convolutions is not None
                else "Dense layers"
            )
            raise UserError(
                f"{path} holds {layer!r}{reader.where(path)}: rlrt translates {where_ok}; this layer "
                "has no counterpart there."
            )
    return units


def network_layers(reader: Reader, images: bool = False) -> tuple[list[list[Any]], list[int], str]:
    """The main network's convolutions (RLlib's ``conv_filters``: the observation embedder's leading ``Conv2d``
    layers, only where ``images`` allows them), hidden layer sizes (the embedder's ``Dense`` layers, then the
    middleware's) and activation (the middleware's; an embedder's other one is noted); a network rlrt cannot build
    is a :class:`UserError`."""
    net = reader.get(MAIN, mark=False)
    embedders = reader.get(f"{MAIN}.input_embedders_parameters", mark=False)
    if list(embedders) != ["observation"]:
        raise UserError(
            f"{MAIN}.input_embedders_parameters has inputs {sorted(embedders)}"
            f"{reader.where(MAIN + '.input_embedders_parameters')}: rlrt trains a model of one "
            "'observation' input."
        )
    embedder, middleware = embedders["observation"], net.middleware_parameters
    if class_name(middleware) != "FCMiddlewareParameters":
        raise UserError(
            f"{MAIN}.middleware_parameters is {class_name(middleware)}"
            f"{reader.where(MAIN + '.middleware_parameters')}: rlrt translates the fully connected "
            "middleware (FCMiddlewareParameters) only."
        )
    convolutions: list[list[Any]] | None = [] if images else None
    hidden = scheme_units(
        reader, f"{MAIN}.input_embedders_parameters.observation", EMBEDDER_SCHEMES, convolutions
    ) + scheme_units(reader, f"{MAIN}.middleware_parameters", MIDDLEWARE_SCHEMES)
    activation = str(reader.get(f"{MAIN}.middleware_parameters.activation_function", mark=False))
    if reader.get(f"{MAIN}.input_embedders_parameters.observation.activation_function", mark=False) != activation:
        reader.note(
            f"{MAIN}.input_embedders_parameters.observation.activation_function",
            f"{embedder.activation_function!r} not translated: rlrt's model has one activation, the "
            f"middleware's {activation!r}",
        )
    for part in (
        "input_embedders_parameters.observation.scheme",
        "middleware_parameters.scheme",
        "input_embedders_parameters.observation.activation_function",
        "middleware_parameters.activation_function",
    ):
        reader.used.add(f"{MAIN}.{part}")
    return convolutions or [], hidden, activation


def untranslated(reader: Reader, graph_manager: Any, agent: Any) -> Iterator[tuple[str, str]]:
    """What the preset set away from Coach's defaults (a fresh agent of its class, fresh parameter objects) and no
    translation read."""
    defaults = {"agent_params": type(agent)()}
    for name in ("visualization_parameters", "preset_validation_params", "env_params"):
        given = getattr(graph_manager, name)
        if given is None:  # a Batch RL preset without an environment
            continue
        try:
            defaults[name] = type(given)(level=given.level) if name == "env_params" else type(given)()
        except TypeError:  # a parameters class with other arguments: not compared
            continue
    for name, default in defaults.items():
        for path, value in _differences(getattr(graph_manager, name), default, name):
            if path.split(".", 2)[:2] == ["agent_params", "visualization"]:
                continue  # the graph manager's visualization_parameters, compared once
            if path in ("agent_params.input_filter", "agent_params.output_filter") and class_name(value) in (
                "NoInputFilter",
                "NoOutputFilter",
            ):
                continue  # the environment's defaults, set by the graph manager
            if not any(
                path == used or path.startswith(used + ".") or used.startswith(path + ".") for used in reader.used
            ):
                yield path, _short(value)


def _differences(given: Any, default: Any, path: str) -> Iterator[tuple[str, Any]]:
    """The attribute paths under ``path`` where ``given`` differs from ``default``."""
    if type(given) is not type(default):
        yield path, given
    elif isinstance(given, dict):
        for key in sorted(set(given) | set(default), key=str):
            label = key.__name__ if isinstance(key, type) else str(key)
            if key not in given or key not in default:
                yield f"{path}.{label}", given.get(key)
            else:
                yield from _differences(given[key], default[key], f"{path}.{label}")
    elif isinstance(given, (list, tuple)):
        if len(given) != len(default):
            yield path, given
        else:
            for index, (a, b) in enumerate(zip(given, default)):
                yield from _differences(a, b, f"{path}.{index}")
    elif hasattr(given, "__dict__") and not isinstance(given, (Enum, type)):
        for key in sorted(set(vars(given)) | set(vars(default))):
            if key.startswith("__"):
                continue
            a, b = vars(given).get(key), vars(default).get(key)
            yield from _differences(a, b, f"{path}.{key.lstrip('_')}")  # a property's value, by its name
    elif given != default:
        yield path, given


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    text = f"{class_name(value)}" if hasattr(value, "__dict__") and not isinstance(value, Enum) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
