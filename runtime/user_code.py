"""Whose code an exception came from: the user's (a launcher script, an environment module, a preset's code) or rlrt's.

:func:`runtime.errors.run_job` reports an exception that no rlrt check turned into a :class:`UserError` as a
"Framework error" (rlrt's own bug) unless :func:`user_code_failure` finds that it was raised in the user's code: then
the message names the user's file, line and function (the last frame of the traceback that is in the user's code),
the environment method it was in (``reset``, ``step`` with the action it was given), and what to do.

A file is the user's when it is neither rlrt's (its packages ``runtime``, ``envs``, ``sagemaker_rl``,
``entrypoints``) nor installed (the standard library, site-packages: Ray, torch, gymnasium). A traceback that only
exists as text (an exception a Ray worker raised, re-raised in the driver) is read from that text.
"""

from __future__ import annotations

import os
import re
import site
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

RLRT_PACKAGES = ("runtime", "envs", "sagemaker_rl", "entrypoints")
ENV_METHODS = ("reset", "step")
_TEXT_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>[^\s]+)')
VALUE_CHARS = 120


@lru_cache(maxsize=1)
def _not_user_roots() -> tuple[str, ...]:
    here = Path(__file__).resolve().parent.parent
    roots = [str(here / package) for package in RLRT_PACKAGES]
    paths = sysconfig.get_paths()
    roots += [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if paths.get(key)]
    try:
        roots += site.getsitepackages() + [site.getusersitepackages()]
    except AttributeError:  # an embedded interpreter's site module may lack them
        pass
    return tuple(os.path.realpath(root) + os.sep for root in roots)


def is_user_file(path: str | None) -> bool:
    """Whether ``path`` (a traceback's file name) is the user's code: a real file outside rlrt and installed code."""
    if not path or path.startswith("<") or not os.path.isfile(path):  # <frozen runpy>, a Cython module's .pxi
        return False
    return not (os.path.realpath(path) + os.sep).startswith(_not_user_roots())


@dataclass(frozen=True)
class UserFrame:
    """Where the user's code raised: the last frame of the traceback in it, and the environment method around it."""

    file: str
    line: int
    function: str
    env_call: str = ""
    """``step(action=1)`` / ``reset(seed=0)`` when the frame is (or is called from) an environment's method."""

    def where(self) -> str:
        return f"{self.file}, line {self.line}, in {self.function}"


def _short(value: Any) -> str:
    text = repr(value.tolist() if hasattr(value, "tolist") else value)  # numpy: 1, not np.int32(1)
    return text if len(text) <= VALUE_CHARS else f"{text[:VALUE_CHARS]}... ({len(text)} characters)"


def _env_call(frame: Any) -> str:
    """``step(action=...)`` / ``reset(seed=..., options=...)`` when ``frame`` runs a gymnasium environment's method."""
    if frame.f_code.co_name not in ENV_METHODS:
        return ""
    owner = frame.f_locals.get("self")
    if owner is None or not any(hasattr(owner, name) for name in ("observation_space", "action_space")):
        return ""
    if frame.f_code.co_name == "step":
        names = frame.f_code.co_varnames[1 : frame.f_code.co_argcount]
        action = frame.f_locals.get(names[0]) if names else None
        return f"step({names[0] if names else 'action'}={_short(action)})"
    given = [f"{name}={_short(frame.f_locals.get(name))}" for name in ("seed", "options") if name in frame.f_locals]
    return f"reset({', '.join(given)})"


def is_rlrt_file(path: str | None) -> bool:
    """Whether ``path`` is rlrt's own code (one of :data:`RLRT_PACKAGES`)."""
    return bool(path) and (os.path.realpath(str(path)) + os.sep).startswith(_not_user_roots()[: len(RLRT_PACKAGES)])


def _from_traceback(tb: TracebackType | None) -> UserFrame | None:
    """The last user frame of ``tb``, when no rlrt frame comes after it: the user's launcher script calls rlrt, so
    an error rlrt's code raises below it is rlrt's; a library (numpy, gymnasium) raising below it is the user's."""
    found: UserFrame | None = None
    env_call = ""
    while tb is not None:
        frame = tb.tb_frame
        path = frame.f_code.co_filename
        if is_user_file(path):
            env_call = _env_call(frame) or env_call
            found = UserFrame(path, tb.tb_lineno, frame.f_code.co_name, env_call)
        elif is_rlrt_file(path):
            found, env_call = None, ""
        tb = tb.tb_next
    return found


def _from_text(text: str) -> UserFrame | None:
    """The last user frame of a traceback kept as text (a Ray worker's)."""
    frames = list(_TEXT_FRAME.finditer(text))
    rlrt = [i for i, m in enumerate(frames) if is_rlrt_file(m["file"])]
    frames = [m for m in frames[rlrt[-1] + 1 if rlrt else 0 :] if is_user_file(m["file"])]
    if not frames:
        return None
    last = frames[-1]
    method = next((m["function"] for m in reversed(frames) if m["function"] in ENV_METHODS), "")
    return UserFrame(last["file"], int(last["line"]), last["function"], f"{method}()" if method else "")


def _raised_by_rlrt(error: BaseException) -> bool:
    """Whether ``error``'s last frame is rlrt's own code (not the user's, not a library's)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    return is_rlrt_file(tb.tb_frame.f_code.co_filename)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, innermost last; an exception raised while handling another
    (implicit chaining) is followed there only when a library raised it: rlrt's own code failing in an ``except``
    block is rlrt's bug, whatever it was handling."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__ or _raised_by_rlrt(current):
            current = None
        else:
            current = current.__context__
    return chain


def user_frame(exc: BaseException) -> tuple[BaseException, UserFrame] | None:
    """The exception of ``exc``'s chain raised in the user's code and where; None when no frame is the user's."""
    for error in reversed(_chain(exc)):  # the innermost error is the one the user's code raised
        if isinstance(error, SyntaxError) and is_user_file(error.filename):
            return error, UserFrame(str(error.filename), int(error.lineno or 0), "<module>")
        found = _from_traceback(error.__traceback__) or (
            _from_text(str(error)) if "Traceback (most recent call last)" in str(error) else None
        )
        if found is not None:
            return error, found
    return None


def _reason(error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        return f"{type(error).__name__}: {error.msg}"
    text = str(error).strip()
    if "Traceback (most recent call last)" in text:  # a worker's error as text: its last line is the error
        text = text.splitlines()[-1].strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def described(exc: BaseException) -> str:
    """``Type: message``, and where the user's code raised it when it did (``..., at <file>, line N, in step:
    the environment's step(action=1)``)."""
    found = user_frame(exc)
    if found is None:
        return _reason(exc)
    error, frame = found
    during = f": the environment's {frame.env_call}" if frame.env_call else ""
    return f"{_reason(error)}, at {frame.where()}{during}"


def user_code_failure(exc: BaseException) -> str | None:
    """The failure message for ``exc`` when the user's code raised it (see the module docstring), else None."""
    found = user_frame(exc)
    if found is None:
        return None
    error, frame = found
    during = f" (the environment's {frame.env_call})" if frame.env_call else ""
    fix = "Fix the environment there" if frame.env_call else "Fix your code there"
    return (
        f"Your code raised {_reason(error)}\n  at {frame.where()}{during}.\n{fix}: rlrt stopped the job. "
        "The full traceback is in the job's log (stderr)."
    )
