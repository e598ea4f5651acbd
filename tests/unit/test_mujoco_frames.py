"""gymnasium's MuJoCo robots film headless (envs/rendering.py): an offscreen OpenGL backend chosen from the libraries
the machine has unless the user chose one, and frames drawn without shadows and reflections (4-5x faster on a CPU)
when, and only when, frames are asked for."""

from __future__ import annotations

import ctypes.util
import os

import pytest

from envs.registry import make_env
from envs.rendering import headless_gl


@pytest.mark.parametrize(("libraries", "backend"), [({"EGL", "OSMesa"}, "egl"), ({"OSMesa"}, "osmesa"), (set(), None)])
def test_mujoco_renders_offscreen_with_the_library_there_is(
    monkeypatch: pytest.MonkeyPatch, libraries: set[str], backend: str | None
) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: f"lib{name}.so.1" if name in libraries else None)
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    assert headless_gl() == backend and os.environ.get("MUJOCO_GL") == backend


def test_mujoco_renders_with_the_users_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUJOCO_GL", "glfw")
    assert headless_gl() == "glfw" and os.environ["MUJOCO_GL"] == "glfw"


def test_a_filmed_mujoco_robot_is_drawn_plain_and_an_unfilmed_one_is_untouched() -> None:
    filmed, unfilmed = make_env("Hopper-v5", {"render_mode": "rgb_array"}), make_env("Hopper-v5")
    try:
        assert filmed.unwrapped.model.vis.quality.shadowsize == 0 and not filmed.unwrapped.model.mat_reflectance.any()
        assert unfilmed.unwrapped.model.vis.quality.shadowsize > 0 and unfilmed.unwrapped.model.mat_reflectance.any()
        assert filmed.observation_space == unfilmed.observation_space
    finally:
        filmed.close()
        unfilmed.close()
