"""Headless ``rgb_array`` frames: the OpenGL backend gymnasium's MuJoCo environments render with."""

from __future__ import annotations

import ctypes.util
import os

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
