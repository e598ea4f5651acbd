"""Ending a job's process without the interpreter's teardown.

Ray, torch and pyarrow make Python's teardown (freeing every module and object one by one) take 1.3-2 s after a job
has finished (measured on the 2-core machine: a launcher script's last exit handler to its process's end, 1.38 s).
The exit handlers (``atexit``) still run and the output is flushed; then the process ends at once with its code.
``rlrt`` ends that way after its command returns; a SageMaker RL launcher script ends that way after ``train_main``
when nothing of the script's own is left to run (:func:`nothing_runs_after`).
"""

from __future__ import annotations

import atexit
import dis
import os
import sys
import threading
from types import FrameType
from typing import NoReturn

from runtime.timings import mark

_ENDING = frozenset({"POP_TOP", "NOP", "LOAD_CONST", "RETURN_VALUE", "RETURN_CONST"})
"""The instructions a module runs after a call that is its last statement: the call's result dropped, None
returned."""


def exit_without_teardown(code: int) -> NoReturn:
    """Run the exit handlers, flush stdout and stderr, and end the process with ``code`` at once."""
    atexit._run_exitfuncs()
    mark("exit")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def nothing_runs_after(frame: FrameType | None) -> bool:
    """Whether the process has nothing left to run once the call ``frame`` is executing returns: ``frame`` is the
    ``__main__`` module's own code at its last statement (a script ending in ``MyLauncher().train_main()``, inside
    ``if __name__ == "__main__":`` or not), and no other non-daemon thread is alive (the interpreter would wait
    for it). Anything else (a call in a function, a ``try``/``finally``, more statements after it): False."""
    if frame is None or frame.f_code.co_name != "<module>" or frame.f_globals.get("__name__") != "__main__":
        return False
    if any(t.is_alive() and not t.daemon and t is not threading.main_thread() for t in threading.enumerate()):
        return False
    if _in_handler_range(frame):  # inside a try or a with: its handler or __exit__ runs after the call
        return False
    for ins in dis.get_instructions(frame.f_code):
        if ins.offset <= frame.f_lasti:
            continue
        if ins.opname not in _ENDING or (ins.opname in ("LOAD_CONST", "RETURN_CONST") and ins.argval is not None):
            return False
        if ins.opname.startswith("RETURN"):
            return True
    return False


def _in_handler_range(frame: FrameType) -> bool:
    """Whether the instruction ``frame`` executes is covered by an exception handler (Python 3.11+'s exception
    table); True where that table cannot be read (the careful answer)."""
    parse = getattr(dis, "_parse_exception_table", None)
    if parse is None:
        return True
    return any(entry.start <= frame.f_lasti < entry.end for entry in parse(frame.f_code))
