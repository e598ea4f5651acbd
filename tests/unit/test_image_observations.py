"""Integer observations on their way to RLlib's model (runtime.backends.rllib.images): which are divided, the space a
client sends, the serving filter that divides raw frames as training did, and frames beside other sensors scaled."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from runtime.backends.rllib.images import (
    CONNECTOR,
    divisor,
    float_space,
    raw_space,
    scale_observation,
    scaled_filter,
    scaled_space,
)
from runtime.export.policy import ObservationFilter


def test_frames_are_divided_by_255_other_integers_only_cast_floats_untouched() -> None:
    assert divisor(spaces.Box(0, 255, (42, 42, 1), np.uint8)) == 255.0
    assert divisor(spaces.Box(0, 255, (84, 84), np.uint8)) == 255.0
    assert divisor(spaces.Box(0, 9, (4,), np.int64)) == 1.0
    assert divisor(spaces.Box(0, 1, (4,), np.float32)) is None
    assert divisor(spaces.Discrete(3)) is None


def test_the_recorded_space_is_the_frames_the_env_gives() -> None:
    frames = spaces.Box(0, 255, (10, 10, 3), np.uint8)
    seen = float_space(frames, 255.0)
    assert seen.dtype == np.float32 and float(seen.high.max()) == 1.0
    assert raw_space(seen, {CONNECTOR: {"divisor": 255.0}}) == frames
    assert raw_space(seen, {}) is seen


def test_the_serving_filter_divides_raw_frames_then_applies_the_mean_std_filter() -> None:
    x = np.array([[0.0, 51.0, 255.0]])
    only = scaled_filter({CONNECTOR: {"divisor": 255.0}}, None, 3)
    assert only is not None and only.name == "integer observations / 255"
    np.testing.assert_allclose((x - only.mean) / (only.std + only.eps), x / 255.0)
    stats = ObservationFilter(mean=np.array([0.1, 0.2, 0.3]), std=np.array([0.5, 1.0, 2.0]), eps=1e-8, clip=5.0)
    both = scaled_filter({CONNECTOR: {"divisor": 255.0}}, stats, 3)
    assert both is not None and both.clip == 5.0
    np.testing.assert_allclose((x - both.mean) / (both.std + both.eps), (x / 255.0 - stats.mean) / (stats.std + 1e-8))
    assert scaled_filter({}, stats, 3) is stats


def test_frames_beside_other_sensors_are_scaled_to_unit_range_and_the_rest_kept() -> None:
    observation = {"CAMERA": np.full((2, 2, 1), 51, np.uint8), "LIDAR": np.array([0.5, 1.0], np.float32)}
    scaled = scale_observation(observation)
    assert scaled["CAMERA"].dtype == np.float32
    np.testing.assert_allclose(scaled["CAMERA"], 0.2)
    np.testing.assert_array_equal(scaled["LIDAR"], observation["LIDAR"])
    space = spaces.Dict(
        {"CAMERA": spaces.Box(0, 255, (2, 2, 1), np.uint8), "LIDAR": spaces.Box(0.0, 1.0, (2,), np.float32)}
    )
    seen = scaled_space(space)
    assert seen["CAMERA"] == spaces.Box(0.0, 1.0, (2, 2, 1), np.float32)
    assert seen["LIDAR"] == space["LIDAR"]
