"""Integer observations (camera frames: ``Box(0, 255, (H, W, C), uint8)``) reach RLlib's torch model as float32.

RLlib's new API stack hands the env's observations to the RLModule as they are, and its default encoders' layers are
float32: a uint8 frame ends in torch's ``Input type (unsigned char) and bias type (float)``. RLlib's own image
examples turn frames into float32 scaled to small values before the model (its Atari wrapper,
``NormalizedImageEnv``); here an env-to-module connector does it, so that the environment, its recorded spaces and
what a client sends to the served model stay the raw frames:

- a uint8 image (2 or 3 dimensions) is divided by 255 (values in [0, 1]);
- any other integer Box is cast to float32 unchanged.

The connector's state (``{"divisor": d}``) is saved in the checkpoint's env-to-module pipeline, and the serving
policy divides by the same ``d`` (:func:`scaled_filter`), so the exports take raw frames as the env gives them.

An env of camera frames beside other sensors in a Dict (DeepRacer's) gets :func:`scaled_frames` instead, from its
family's ``configure`` hook: uint8 frames scaled to [0, 1] wherever they are, then the Dict flattened.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from runtime.export.policy import ObservationFilter

CONNECTOR = "FloatObservations"
"""The connector's class name: its key in the env-to-module pipeline's state."""
IMAGE_DIVISOR = 255.0


def divisor(space: Any) -> float | None:
    """What observations of ``space`` are divided by on their way to the model (1.0: only cast to float32); None
    when they need nothing (float observations, or a space other than a Box)."""
    if not isinstance(space, spaces.Box) or not np.issubdtype(space.dtype, np.integer):
        return None
    image = space.dtype == np.uint8 and len(space.shape) in (2, 3)
    return IMAGE_DIVISOR if image else 1.0


def float_space(space: spaces.Box, by: float) -> spaces.Box:
    """``space`` as the model sees it: float32 bounds divided by ``by``."""
    low = np.asarray(space.low, dtype=np.float32) / np.float32(by)
    high = np.asarray(space.high, dtype=np.float32) / np.float32(by)
    return spaces.Box(low, high, space.shape, np.float32)


def float_observations(env: Any = None, spaces: Any = None, device: Any = None) -> list[Any]:
    """RLlib's ``env_to_module_connector`` for a single-agent env: the float connector when its observations are an
    integer Box, else none."""
    space = getattr(env, "single_observation_space", None)
    by = divisor(space)
    if by is None:
        return []
    return [float_connector(by)]


def float_connector(by: float) -> Any:
    """An env-to-module connector: observations cast to float32 and divided by ``by``."""
    from ray.rllib.connectors.env_to_module.observation_preprocessor import (  # heavy: Ray and RLlib (~4 s)
        SingleAgentObservationPreprocessor,
    )

    class FloatObservations(SingleAgentObservationPreprocessor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.divisor = by

        def recompute_output_observation_space(self, input_observation_space: Any, input_action_space: Any) -> Any:
            return float_space(input_observation_space, self.divisor)

        def preprocess(self, observation: Any, episode: Any) -> Any:
            return np.asarray(observation, dtype=np.float32) / np.float32(self.divisor)

        def get_state(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"divisor": self.divisor}

        def set_state(self, state: Mapping[str, Any]) -> None:
            self.divisor = float(state.get("divisor", self.divisor))

    return FloatObservations()


def with_float_observations(connectors: Any) -> Any:
    """An ``env_to_module_connector`` running :func:`float_observations` first, then ``connectors``' own (RLlib's
    MeanStdFilter then normalises the float values)."""

    def both(env: Any = None, spaces: Any = None, device: Any = None) -> list[Any]:
        more = connectors(env, spaces, device)
        return float_observations(env, spaces, device) + (list(more) if isinstance(more, (list, tuple)) else [more])

    return both


def scale_observation(observation: Any) -> Any:
    """Camera frames (uint8) -> float32 in [0, 1], a Dict observation's too; other sensors unchanged."""
    if isinstance(observation, dict):
        return {k: scale_observation(v) for k, v in observation.items()}
    array = np.asarray(observation)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(IMAGE_DIVISOR)
    return array


def scaled_space(space: Any) -> Any:
    """``space`` as :func:`scale_observation` makes its observations: uint8 Boxes as float32 in [0, 1]."""
    if isinstance(space, spaces.Dict):
        return spaces.Dict({k: scaled_space(v) for k, v in space.spaces.items()})
    if isinstance(space, spaces.Box) and space.dtype == np.uint8:
        return spaces.Box(0.0, 1.0, space.shape, np.float32)
    return space


def _several_sensors(space: Any) -> bool:
    """A Dict observation space; here, not in :func:`scaled_frames`, whose RLlib-given ``spaces`` argument hides
    gymnasium's module of that name."""
    return isinstance(space, spaces.Dict)


def scaled_frames(env: Any = None, spaces: Any = None, device: Any = None) -> list[Any]:
    """RLlib's ``env_to_module_connector`` for an env of camera frames and other sensors (DeepRacer's): frames
    scaled to [0, 1] (:func:`scale_observation`, no state to save), then Dict observations (several sensors)
    flattened. An env's own evaluation feeds its policy the same way: :func:`scale_observation`, then the Dict's
    values concatenated in the order of their sorted keys."""
    from ray.rllib.connectors.connector_v2 import ConnectorV2  # heavy: Ray and RLlib (~4 s)
    from ray.rllib.connectors.env_to_module.flatten_observations import (  # heavy: Ray and RLlib (~4 s)
        FlattenObservations,
    )
    from ray.rllib.connectors.env_to_module.observation_preprocessor import (  # heavy: Ray and RLlib (~4 s)
        SingleAgentObservationPreprocessor,
    )

    # Its class name names it in the env-to-module pipeline's state (a checkpoint's): kept as trained models hold it.
    class ScaleImages(SingleAgentObservationPreprocessor):
        def recompute_output_observation_space(self, input_observation_space: Any, input_action_space: Any) -> Any:
            return scaled_space(input_observation_space)

        def preprocess(self, observation: Any, episode: Any) -> Any:
            return scale_observation(observation)

    observation_space = getattr(env, "single_observation_space", None) or getattr(env, "observation_space", None)
    pieces: list[ConnectorV2] = [ScaleImages()]
    if _several_sensors(observation_space):
        pieces.append(FlattenObservations(multi_agent=False))
    return pieces


def scaled_filter(
    env_to_module_state: Mapping[str, Any] | None, observation_filter: ObservationFilter | None, dim: int
) -> ObservationFilter | None:
    """The serving policy's observation filter with the float connector's division in front: for raw observations
    ``x``, ``(x / d - mean) / (std + eps)`` is ``(x - d * mean) / (d * (std + eps))``."""
    state = (env_to_module_state or {}).get(CONNECTOR) or {}
    by = float(state.get("divisor", 1.0))
    if by == 1.0:
        return observation_filter
    if observation_filter is None:
        return ObservationFilter(
            mean=np.zeros(dim), std=np.full(dim, by), eps=0.0, clip=None, name=f"integer observations / {by:g}"
        )
    mean = observation_filter.mean if observation_filter.demean else np.zeros_like(observation_filter.mean)
    scale = (
        observation_filter.std + observation_filter.eps
        if observation_filter.destd
        else np.ones_like(observation_filter.std)
    )
    return ObservationFilter(
        mean=np.asarray(mean) * by,
        std=np.asarray(scale) * by,
        eps=0.0,
        clip=observation_filter.clip,
        name=f"integer observations / {by:g}, then MeanStdFilter",
    )


def raw_space(space: Any, env_to_module_state: Mapping[str, Any] | None) -> Any:
    """The observation space a client sends to the model (the environment's frames) for the model's own ``space``:
    a divided image space as the uint8 frames it came from."""
    state = (env_to_module_state or {}).get(CONNECTOR) or {}
    by = float(state.get("divisor", 1.0))
    if by != IMAGE_DIVISOR or not isinstance(space, spaces.Box):
        return space
    low = np.rint(np.asarray(space.low, dtype=np.float64) * by)
    high = np.rint(np.asarray(space.high, dtype=np.float64) * by)
    return spaces.Box(low.astype(np.uint8), high.astype(np.uint8), space.shape, np.uint8)
