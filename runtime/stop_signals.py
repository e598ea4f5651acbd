"""SIGTERM (a spot interruption, StopTrainingJob, ``docker stop``) and SIGINT (Ctrl-C), from process start to exit:
one handler, installed once (:func:`install`, by every command before its work and by :func:`runtime.errors.run_job`)
and never replaced for good, so no signal is lost and none kills the process half way.

What a signal does depends on the phase the process is in (:data:`STOPS`):

- ``interrupt`` (the default: start-up, a video, the final evaluation, ``rlrt evaluate``, ``rlrt collect``): the first
  signal raises :class:`runtime.errors.JobInterrupted` where the main thread is; the one failure path
  (:func:`runtime.errors.run_job`) prints one line, writes ``output/failure`` and exits 143 (SIGTERM) or 130 (SIGINT).
- ``poll`` (the training loop): the signal is noted (``requested``, which backends poll inside an iteration) and one
  line printed; an iteration still running ``GRACE_S`` later is abandoned (:class:`JobInterrupted`).
- ``hold`` (a checkpoint or the model folder being published): the signal is noted and acted on once the work is
  complete, so neither is ever left half written.
- ``finish`` (the model folder being staged): noted; the folder is finished unless a second signal comes or it takes
  longer than ``FINISH_BUDGET_S``, which abandon the staging (``model/`` untouched).
- ``done`` (the job finished: ``rlrt: done`` is printed, only closing down is left): noted and said, and the job
  ends as it finished (exit 0); a second signal stops the closing down.

Between phases the job's stage (:meth:`StopSignals.reached`: the final video, the final evaluation, finished) says what
a signal interrupts and what the job kept, so a stop after training never reads as one during start-up.

Libraries that install their own handler are kept from doing so or are overruled: SDL (pygame, which renders
CartPole's frames) installs one that turns both signals into a quit event nobody reads unless
``SDL_NO_SIGNAL_HANDLERS`` is set, and ``ray.init`` installs one that exits on SIGTERM; :func:`install` runs again as
each phase begins.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable, Iterator

from runtime.errors import JobInterrupted, signal_exit_code
from runtime.streams import outlive_readers
from runtime.timings import mark

GRACE_S = 5.0
"""How long an iteration in flight may run on after a signal before it is abandoned."""

FINISH_BUDGET_S = 60.0
"""How long the model folder may take once a signal came: SageMaker kills a job 120 s after SIGTERM (StopTrainingJob,
a spot interruption), and the job's Ray needs a few seconds to stop after it."""

INTERRUPT, POLL, HOLD, FINISH, DONE = "interrupt", "poll", "hold", "finish", "done"


class StopSignals:
    """The process's SIGTERM/SIGINT state: the first signal that arrived and the phase the process is in."""

    def __init__(self) -> None:
        self.signal_name = ""
        """``SIGTERM`` or ``SIGINT``: the first stop signal that arrived ("" while none has)."""
        self.phase = "start-up"
        """What the process was doing when the first signal arrived (then kept), else what it is doing."""
        self.mode = INTERRUPT
        self.kept = ""
        """What the job has kept at its current stage (:meth:`reached`), as the failure file says it."""
        self.grace_s = GRACE_S
        self.second = False
        """Whether a second signal arrived."""
        self._depth = 0
        self._previous: dict[int, Any] = {}
        self.process_wide = False
        """Installed for the whole process (:func:`run_command`), not only while a job runs (:meth:`handling`)."""
        self._hangup: bool | None = None

    @property
    def requested(self) -> bool:
        return bool(self.signal_name)

    def __call__(self) -> bool:
        """Whether a stop signal has arrived (backends poll this inside a long iteration)."""
        return self.requested

    @property
    def exit_code(self) -> int:
        """The exit code a stop by the first signal ends with (128 + its number, as a shell reports it)."""
        return signal_exit_code(self.signal_name)

    @property
    def stops(self) -> tuple[int, ...]:
        """The signals that stop a job: SIGTERM, SIGINT and, unless the process was started ignoring it (``nohup``),
        SIGHUP (a closed terminal: the job keeps what it did, as for Ctrl-C)."""
        if self._hangup is None:
            self._hangup = signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN
        return (signal.SIGTERM, signal.SIGINT, signal.SIGHUP) if self._hangup else (signal.SIGTERM, signal.SIGINT)

    def install(self) -> None:
        """Make this object the handler of SIGTERM, SIGINT, SIGHUP and SIGALRM (again, if a library replaced it);
        only in the main thread, where Python runs signal handlers."""
        os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
        try:
            for signum in self.stops:
                if signal.getsignal(signum) != self._on_signal:
                    signal.signal(signum, self._on_signal)
            if signal.getsignal(signal.SIGALRM) != self._on_alarm:
                signal.signal(signal.SIGALRM, self._on_alarm)
        except ValueError:  # not the main thread: that thread's owner handles signals
            pass

    def release(self) -> None:
        """Give SIGTERM and SIGINT back to Python's defaults, for a command whose library handles them itself
        (``rlrt serve``: gunicorn's arbiter; ``rlrt tune``: Ray Tune stops its trials on SIGINT)."""
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if self._hangup:
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
        except ValueError:
            pass

    def clear(self) -> None:
        """Forget a signal noted earlier: no signal, start-up, ``interrupt`` mode (a new job or command begins)."""
        self.signal_name, self.phase, self.mode, self.second, self.kept = "", "start-up", INTERRUPT, False, ""

    def reached(self, phase: str, kept: str, mode: str = INTERRUPT) -> None:
        """The job moved on to the stage ``phase`` (which phases entered from here return to): a signal from here on
        is handled in ``mode`` and says ``kept``. A phase noted with a signal stays the one named."""
        if self.mode == INTERRUPT and mode == INTERRUPT:
            self.check()
        if not self.requested:
            self.phase = phase
        self.kept, self.mode = kept, mode

    @contextmanager
    def handling(self) -> Iterator["StopSignals"]:
        """Handle the signals while the body runs (a job, a command): the outermost such body starts with no signal
        noted and, as it ends, puts back the handlers it found (a caller's own process, a test, keeps its own)."""
        outermost = self._depth == 0
        if outermost:
            self.clear()
            self._previous = {s: signal.getsignal(s) for s in (*self.stops, signal.SIGALRM)}
        self._depth += 1
        try:
            self.install()
            yield self
        finally:
            self._depth -= 1
            if outermost:
                signal.setitimer(signal.ITIMER_REAL, 0)
                try:
                    for signum, handler in self._previous.items():
                        if handler is not None:
                            signal.signal(signum, handler)
                except ValueError:
                    pass

    @contextmanager
    def phase_of(self, phase: str, mode: str = INTERRUPT) -> Iterator["StopSignals"]:
        """Run the body as ``phase`` in ``mode`` (the phase a failure names is the one the first signal came in).
        Whoever runs a body in ``poll``, ``hold`` or ``finish`` mode checks ``requested`` after it and stops. An
        ``interrupt`` or ``poll`` phase entered from an ``interrupt`` one with a signal noted raises at once
        (:meth:`check`); ``hold`` and ``finish`` are how work is finished after a signal."""
        if mode in (INTERRUPT, POLL):  # new work: not begun once a signal is noted
            self.check()
        if self.active:
            self.install()
        previous = (self.phase, self.mode)
        if not self.requested:
            self.phase = phase
        self.mode = mode
        if mode == FINISH and self.requested:  # stopping already: the model folder gets a bounded time
            signal.setitimer(signal.ITIMER_REAL, FINISH_BUDGET_S)
        try:
            yield self
        finally:
            self.mode = previous[1]
            if not self.requested:
                self.phase = previous[0]
            if mode in (POLL, FINISH):
                signal.setitimer(signal.ITIMER_REAL, 0)

    @property
    def active(self) -> bool:
        """Whether this process's signals are handled here now (a phase run outside, e.g. a test calling the
        evaluator in-process, leaves the caller's handlers alone)."""
        return self.process_wide or self._depth > 0

    def check(self) -> None:
        """Install the handler again (``ray.init`` replaces it) and, in an ``interrupt`` phase, raise
        :class:`JobInterrupted` for a signal already noted: one whose exception a library's ``except BaseException``
        swallowed surfaces here, at the next phase at the latest."""
        if self.active:
            self.install()
        if self.requested and self.mode == INTERRUPT:
            raise self.interrupted()

    def interrupted(self, kept: str = "") -> JobInterrupted:
        """The exception that ends the process through the failure path; ``kept`` says what the job kept."""
        return JobInterrupted(self.signal_name or "SIGTERM", self.phase, kept or self.kept)

    def disarm(self) -> None:
        """Cancel the grace alarm (the iteration in flight ended on its own)."""
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            if not self.second:
                self.second = True
                if self.mode == DONE:
                    raise self.interrupted()
                if self.mode == FINISH:
                    _say(f"rlrt: a second {name}: abandoning the model folder")
                    raise self.interrupted()
            return
        self.signal_name = name
        if self.mode == DONE:
            _say(
                f"rlrt: {name} received after the job finished: {self.kept} Ending as it finished (a second "
                f"{name} stops the closing down)."
            )
            return
        if self.mode == INTERRUPT:
            raise self.interrupted()
        if self.mode == POLL:
            _say(f"rlrt: {name} received: saving a checkpoint and stopping")
            signal.setitimer(signal.ITIMER_REAL, self.grace_s)
        elif self.mode == FINISH:
            _say(f"rlrt: {name} received while {self.phase}: finishing it first (no final evaluation)")
            signal.setitimer(signal.ITIMER_REAL, FINISH_BUDGET_S)
        else:
            _say(f"rlrt: {name} received while {self.phase}: finishing it first")

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.mode in (POLL, FINISH) and self.requested:
            raise JobInterrupted(self.signal_name, self.phase, "", abandoned=True)


def _say(line: str) -> None:
    """A line on stderr from the signal handler; never raises. The main thread may be inside a write to stderr,
    blocked on a full pipe or a terminal paused with Ctrl-S, where Python's handler runs and a second write raises
    ``RuntimeError: reentrant call``: the line then goes to stderr's descriptor directly."""
    try:
        print(line, file=sys.stderr, flush=True)
    except RuntimeError:
        try:
            os.write(sys.stderr.fileno(), f"\n{line}\n".encode(errors="backslashreplace"))
        except (OSError, ValueError, AttributeError):
            pass
    except (OSError, ValueError):  # a stream closed, or gone otherwise than runtime.streams handles
        pass


STOPS = StopSignals()
"""The process's one instance."""


def install() -> StopSignals:
    """Install the process's stop-signal handler (idempotent); returns :data:`STOPS`."""
    STOPS.install()
    return STOPS


def run_command(main: Callable[[], int]) -> int:
    """A process's command (``rlrt``'s ``main``) with the handler installed from its start: a signal while the
    libraries import or before the command's job began ends it with one line and 130/143, not a traceback."""
    outlive_readers()
    STOPS.install()
    STOPS.process_wide = True
    try:
        code = main()
    except JobInterrupted as exc:
        if exc.phase in ("", "start-up"):
            print(f"rlrt: stopped by {exc.signal_name} before the command started", file=sys.stderr, flush=True)
        else:  # after the job ended (a second signal while it closed down)
            print(f"rlrt: {str(exc)[0].lower()}{str(exc)[1:]}", file=sys.stderr, flush=True)
        code = exc.exit_code
    mark("main returned")
    return code
