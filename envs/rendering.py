"""Headless ``rgb_array`` frames of gymnasium's MuJoCo environments: the OpenGL backend they render with, and what
they draw."""

from __future__ import annotations

import ctypes.util
import os
from typing import Any

GL_BACKENDS = (("egl", "EGL"), ("osmesa", "OSMesa"))
"""MuJoCo's offscreen backends (``MUJOCO_GL``) in the order tried, each with the system library it loads."""


def headless_gl() -> str | None:
    """Set ``MUJOCO_GL`` to the first offscreen backend whose library this machine has, unless the user chose one;
    returns the backend in force (None: neither library found, and none chosen).

    Unset, gymnasium tries GLFW first, which on a machine without a display takes no error at its set-up and then
    fails at the first frame ("an OpenGL platform library has not been loaded"), so a MuJoCo robot would film
    nothing. The images set ``MUJOCO_GL=egl`` themselves; this is for ``rlrt`` run on a laptop, a server or CI."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        return chosen
    for backend, library in GL_BACKENDS:
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            return backend
    return None


def plain_frames(env: Any) -> None:
    """Draw a MuJoCo environment's ``rgb_array`` frames without shadows and floor reflections: on a CPU (Mesa's
    software renderer) a 480x480 Hopper-v5 or Humanoid-v5 frame took 220-250 ms with them and 50-60 ms without, on a
    busy 2-core machine, so the final video of a 1000-step episode takes about a minute instead of four. Both are
    the model's visual settings only (its dynamics do not read them), set before the first frame makes the render
    context. Other environments are left as they are."""
    model: Any = getattr(getattr(env, "unwrapped", None), "model", None)
    if type(model).__module__.split(".")[0] != "mujoco" or getattr(env, "render_mode", None) != "rgb_array":
        return
    model.vis.quality.shadowsize = 0
    model.mat_reflectance[:] = 0
