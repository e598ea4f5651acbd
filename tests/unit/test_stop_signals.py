"""runtime/stop_signals.py in-process: what a signal does in each mode, and that a caller's handlers come back."""

from __future__ import annotations

import io
import os
import pickle
import signal
import sys
import time

import pytest

from runtime.errors import JobInterrupted
from runtime.stop_signals import DONE, FINISH, HOLD, POLL, STOPS


def test_an_interrupt_phase_raises_where_the_main_thread_is_and_the_callers_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(JobInterrupted) as stopped, STOPS.handling(), STOPS.phase_of("the evaluation"):
        os.kill(os.getpid(), signal.SIGTERM)
        pytest.fail("the signal did not interrupt")
    assert (stopped.value.exit_code, str(stopped.value)) == (143, "Stopped by SIGTERM during the evaluation.")
    assert signal.getsignal(signal.SIGTERM) is before
    assert os.environ["SDL_NO_SIGNAL_HANDLERS"] == "1"  # pygame's SDL would turn the signal into a quit event


def test_a_held_signal_waits_for_the_work_and_a_swallowed_one_surfaces_at_the_next_phase() -> None:
    with STOPS.handling():
        with STOPS.phase_of("saving a checkpoint", HOLD):
            os.kill(os.getpid(), signal.SIGINT)
            done = True  # the work went on
        assert done and STOPS.requested and STOPS.exit_code == 130
        with pytest.raises(JobInterrupted) as stopped, STOPS.phase_of("the final video"):
            pytest.fail("a phase began after the signal")
        assert stopped.value.phase == "saving a checkpoint"


def test_a_second_signal_abandons_a_model_folder_being_finished() -> None:
    with STOPS.handling(), STOPS.phase_of("writing the model folder", FINISH):
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(JobInterrupted):
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("the second signal was ignored")
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the budget's alarm is off


def test_a_stage_reached_after_training_names_itself_and_a_finished_job_ends_as_it_finished(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Between phases the job's stage is named, not start-up, with what it kept; once the job finished the first
    signal is only said (the job keeps its exit 0) and a second stops the closing down."""
    with pytest.raises(JobInterrupted) as stopped, STOPS.handling():
        with STOPS.phase_of("training"):
            pass
        STOPS.reached("the final video", "model/ is complete; the final video was not written.")
        os.kill(os.getpid(), signal.SIGINT)
        pytest.fail("the signal did not interrupt")
    assert str(stopped.value) == (
        "Stopped by SIGINT during the final video. model/ is complete; the final video was not written."
    )
    with STOPS.handling():
        STOPS.reached("closing down after the job finished", "model/ is complete.", DONE)
        os.kill(os.getpid(), signal.SIGTERM)
        finished = True
        assert finished and STOPS.requested
        with pytest.raises(JobInterrupted) as second:
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("the second signal was ignored")
    assert "rlrt: SIGTERM received after the job finished: model/ is complete." in capsys.readouterr().err
    assert second.value.phase == "closing down after the job finished"


def test_a_signal_while_stderr_is_blocked_mid_write_is_noted_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while the main thread is blocked writing to stderr (a pipe nobody drains yet, as a terminal paused
    with Ctrl-S): Python runs the handler inside that write, where printing to the same stream raises
    ``RuntimeError: reentrant call``. The stop is noted, the job's write completes, and the line still comes."""
    import threading

    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w", buffering=1)
    monkeypatch.setattr(sys, "stderr", stream)
    drained = bytearray()
    main = threading.get_ident()

    def stop_then_drain() -> None:
        time.sleep(0.3)  # the main thread is blocked in its write by now
        signal.pthread_kill(main, signal.SIGTERM)
        time.sleep(0.3)
        while chunk := os.read(read_end, 65536):
            drained.extend(chunk)

    drainer = threading.Thread(target=stop_then_drain, daemon=True)
    drainer.start()
    with STOPS.handling(), STOPS.phase_of("training", POLL):
        stream.write("x" * 1_000_000 + "\n")  # far more than a pipe holds
        stream.flush()
        assert STOPS.requested and STOPS.signal_name == "SIGTERM"
        STOPS.disarm()
    stream.close()
    drainer.join(10)
    assert b"rlrt: SIGTERM received: saving a checkpoint and stopping" in drained
    assert drained.count(b"x") == 1_000_000


def test_a_stream_whose_reader_is_gone_goes_on_into_dev_null() -> None:
    """EPIPE on a pipe whose reader exited: the write succeeds from then on (to /dev/null) and says the reader is
    gone; another error is not hidden."""
    from runtime.streams import Outliving

    read_end, write_end = os.pipe()
    stream = os.fdopen(write_end, "w", buffering=1)
    outliving = Outliving(stream, "stdout")
    outliving.write("read\n")
    assert os.read(read_end, 100) == b"read\n"
    os.close(read_end)
    outliving.write("nobody reads this\n")
    outliving.flush()
    assert outliving.lost and os.path.samefile(f"/proc/self/fd/{stream.fileno()}", os.devnull)
    outliving.write("nor this\n")
    stream.close()
    closed = Outliving(io.StringIO(), "stdout")
    closed.close()
    with pytest.raises(ValueError):
        closed.write("a closed stream is the caller's bug")
    # Ray Tune pickles what a trainable refers to (sys.stdout): it arrives as the other process's own stream.
    assert pickle.loads(pickle.dumps(outliving)) is sys.stdout


def test_sighup_stops_a_job_unless_the_process_was_started_ignoring_it() -> None:
    """A closed terminal (SIGHUP) stops like Ctrl-C, exit 129; under nohup (SIGHUP ignored at start) it is left
    ignored."""
    from runtime.errors import signal_exit_code
    from runtime.stop_signals import StopSignals

    assert signal_exit_code("SIGHUP") == 129 and signal_exit_code("SIGINT") == 130
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert signal.SIGHUP not in StopSignals().stops
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        assert signal.SIGHUP in StopSignals().stops
    finally:
        signal.signal(signal.SIGHUP, previous)
