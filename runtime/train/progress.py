"""What a person watching a training job sees while an iteration runs: in a terminal a progress bar toward the stop
that will end the job first (:class:`ProgressBar`), elsewhere one line when the first iteration is slow
(:class:`SlowStartNotice`). The iteration's own lines are :mod:`runtime.train.reporting`'s."""

from __future__ import annotations

import math
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, TextIO

from runtime.train.reporting import STOP_ALIASES, IterationMetrics, stop_progress


class ProgressBar:
    """A tqdm bar on stderr, shown only in a terminal (SageMaker logs get the metric lines, not bar redraws), toward
    the stop criterion that is nearest to ending the job: each criterion's progress is its value over its target
    (``training_iteration`` 1 of 2 is 50 %, ``timesteps_total`` 4000 of 300000 is 1 %; an offline job's ``epochs``
    counts its iterations, ``gradient_steps`` its timesteps), and the bar shows the largest, naming it.

    The bar is on the screen only while an iteration runs (:meth:`while_running`): the lines printed between
    iterations (metric lines, checkpoints, videos) go to a clean line. Anything else written to ``sys.stdout`` or
    ``sys.stderr`` meanwhile (an env runner's line Ray forwards, a log record) takes the bar off first and draws it
    again below, so no line is glued to it."""

    def __init__(self, stop: Mapping[str, Any], enabled: bool | None = None, file: TextIO | None = None) -> None:
        self._bar = None
        self._stop = {
            k: float(v)
            for k, v in stop.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) > 0
        }
        self._file = file or sys.stderr
        self._lock = threading.RLock()
        self._visible = False
        self._mid_line = False  # a line written while the bar ran has not ended: the bar waits for its end
        self._started = False
        if enabled is None:
            enabled = self._file.isatty()
        if enabled and self._stop:
            from tqdm import tqdm  # heavy: progress bars

            # delay: drawn by while_running() alone, not when made
            self._bar = tqdm(
                total=100,
                unit="%",
                desc="training",
                file=self._file,
                leave=False,
                delay=math.inf,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
            )

    def nearest(self, metrics: IterationMetrics) -> tuple[str, float]:
        """The stop criterion nearest to ending the job, and its progress in [0, 1]."""
        return stop_progress(self._stop, metrics)

    def _draw(self) -> None:
        with self._lock:
            if self._bar is not None and not self._mid_line:
                self._bar.refresh()
                self._visible = True

    def write_around(self, stream: TextIO, text: str) -> int:
        """Write ``text`` to ``stream`` (the terminal) with the bar off the screen; drawn again once a line ends."""
        with self._lock:
            self.clear()
            written = stream.write(text)
            if text:
                self._mid_line = not text.endswith("\n")
            if not self._mid_line:
                stream.flush()
                self._draw()
            return written

    def clear(self) -> None:
        """Take the bar off the screen (before other lines are written)."""
        with self._lock:
            if self._bar is not None and self._visible:
                self._bar.clear()
                self._visible = False

    @contextmanager
    def while_running(self) -> Iterator[None]:
        """Show the bar while the body (an iteration) runs, redrawn each second (its elapsed time), with
        ``sys.stdout`` and ``sys.stderr`` taking it off before each write; off the screen again after."""
        if self._bar is None:
            yield
            return
        streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _BarClearingStream(sys.stdout, self), _BarClearingStream(sys.stderr, self)
        done = threading.Event()

        def tick() -> None:
            while not done.wait(1.0):
                self._draw()

        ticker = threading.Thread(target=tick, name="rlrt-progress", daemon=True)
        if not self._started:  # its clock (elapsed, ETA) starts with the training, as the iteration lines' does
            self._started = True
            with self._lock:
                shown = self._bar.n
                self._bar.reset(total=100)
                self._bar.n = shown
        self._draw()
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            sys.stdout, sys.stderr = streams
            self.clear()
            self._mid_line = False

    def update(self, metrics: IterationMetrics) -> None:
        """Move the bar to ``metrics`` (drawn when the next iteration runs)."""
        if self._bar is None:
            return
        key, done = self.nearest(metrics)
        with self._lock:
            self._bar.n = round(100 * done, 1)
            value = getattr(metrics, STOP_ALIASES.get(key, key), 0)
            self._bar.set_description_str(
                f"training ({key} {value:g} of {self._stop[key]:g})" if key else "training", refresh=False
            )
            if math.isfinite(metrics.episode_reward_mean):
                self._bar.set_postfix(reward=f"{metrics.episode_reward_mean:.3g}", refresh=False)

    @property
    def shown(self) -> bool:
        """Whether the bar is drawn (a terminal): it shows the elapsed time, so no other sign of life is needed."""
        return self._bar is not None

    def close(self) -> None:
        if self._bar is not None:
            self.clear()
            self._bar.disable = True  # nothing more to draw or clear: close() would write a blank line over the last
            self._bar.close()


class _BarClearingStream:
    """``sys.stdout`` / ``sys.stderr`` while a :class:`ProgressBar` is shown: a write takes the bar off the screen
    first, and a completed line draws it again below."""

    def __init__(self, stream: TextIO, bar: ProgressBar) -> None:
        self._stream = stream
        self._progress = bar

    def write(self, text: str) -> int:
        return self._progress.write_around(self._stream, text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class SlowStartNotice:
    """One line when the first iteration is still running after ``delay_s`` (a log without a terminal shows nothing
    else until its metric lines: a Reacher iteration takes ~80 s on two cores); :meth:`cancel` once it has ended."""

    def __init__(self, out: TextIO, unit: str, delay_s: float = 10.0, enabled: bool = True) -> None:
        self._timer = threading.Timer(delay_s, self._say, args=(out, unit, delay_s)) if enabled else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    @staticmethod
    def _say(out: TextIO, unit: str, delay_s: float) -> None:
        print(
            f"rlrt: {unit} 1 is still running after {delay_s:g} s; its metric lines are printed when it ends",
            file=out,
            flush=True,
        )

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
