"""Why a script-mode job's entry point failed, in ``output/failure``.

sagemaker-training runs the user's script without capturing its stderr, so when the script dies (a module it imports
is missing, it raises at import) the only failure it writes is ``ExecuteUserScriptError: ExitCode 1 ErrorMessage
""``. :class:`StderrTail` passes the toolkit's stderr (and so the script's) through unchanged and keeps its last
part; :func:`explain_failure` then puts the script's last error (the final line of its last traceback, and where it
was raised) in that failure file, with what to do for the errors a SageMaker RL script meets on rlrt (TensorFlow,
which rlrt's image does not have). A script whose rlrt job failed through rlrt's failure path has written its own
failure already, which is kept.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from runtime.errors import FAILURE_PREVIEW_CHARS, write_failure

TOOLKIT_FAILURE = "ExecuteUserScriptError"
"""How sagemaker-training's failure file starts when the script exited non-zero."""
TAIL_BYTES = 64 * 1024
"""How much of the end of stderr is kept: the last traceback is there."""
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_ERROR = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(: (?P<message>.*))?$")
_MISSING = re.compile(r"^No module named '(?P<module>[^'.]+)")

TENSORFLOW_HINT = (
    "TensorFlow is not in rlrt's image: rlrt trains with torch and exports the model itself (model/: policy.onnx, "
    "TorchScript, config.json; a TensorFlow SavedModel only where TensorFlow is installed, docs/SERVING.md). Delete "
    "the `import tensorflow` from {file} and any TF1 model-saving method it imports TensorFlow for (SageMaker RL's "
    "_save_tf_model() override: rlrt never calls it); see docs/MIGRATING.md."
)
MISSING_MODULE_HINT = (
    "The module {module} is not installed in rlrt's image: add it to a requirements.txt in source_dir (the toolkit "
    "installs it before the script runs), or delete the import."
)


@dataclass(frozen=True)
class ScriptError:
    """The last error of a script's stderr: its final traceback line and the innermost frame that raised it."""

    type: str
    message: str
    file: str = ""
    line: int = 0

    def where(self) -> str:
        """``train-coach.py, line 3`` (the file's name only), or ""."""
        return f"{Path(self.file).name}, line {self.line}" if self.file else ""


def last_error(text: str) -> ScriptError | None:
    """The error the last Python traceback in ``text`` ends in; None when there is none."""
    lines = text.splitlines()
    start = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("Traceback (most recent call")), None)
    if start is None:
        return None
    frame: re.Match[str] | None = None
    for line in lines[start + 1 :]:
        found = _FRAME.match(line)
        if found:
            frame = found
            continue
        if line[:1].isspace() or not line.strip():
            continue  # a frame's source line, its ^^^ markers
        error = _ERROR.match(line.strip())
        if error is None:
            return None
        return ScriptError(
            error["type"],
            (error["message"] or "").strip(),
            frame["file"] if frame else "",
            int(frame["line"]) if frame else 0,
        )
    return None


def hint(error: ScriptError) -> str:
    """What to do about ``error``, when rlrt knows ("": nothing to add)."""
    missing = _MISSING.match(error.message) if error.type in ("ModuleNotFoundError", "ImportError") else None
    if missing is None:
        return ""
    module = missing["module"]
    if module == "tensorflow":
        return TENSORFLOW_HINT.format(file=Path(error.file).name if error.file else "your script")
    return MISSING_MODULE_HINT.format(module=module)


def failure_message(program: str, error: ScriptError, code: int) -> str:
    """The failure file's text for a script that ended in ``error`` with exit ``code``."""
    where = error.where()
    raised = f"{error.type}: {error.message}" if error.message else error.type
    message = (
        f"The entry point {program} failed ({TOOLKIT_FAILURE}: exit code {code}): {raised}"
        + (f" ({where})" if where else "")
        + "."
    )
    advice = hint(error)
    tail = "The full traceback is in the job's log (stderr)."
    room = FAILURE_PREVIEW_CHARS - len(tail) - len(advice) - 2
    if len(message) > room:
        message = message[: max(room - 3, 80)] + "..."
    return " ".join(part for part in (message, advice, tail) if part)


def explain_failure(failure_file: Path, program: str, stderr_tail: str, code: int) -> None:
    """When sagemaker-training's own failure file says only that the script failed, replace it with the script's
    last error (:func:`failure_message`); anything else in the file (rlrt's failure path wrote it) is kept."""
    try:
        written = failure_file.read_text(encoding="utf-8")
    except OSError:
        return
    if not written.startswith(TOOLKIT_FAILURE):
        return
    error = last_error(stderr_tail)
    if error is not None:
        write_failure(failure_file, failure_message(program, error, code))


class StderrTail:
    """Copies a child's stderr (a pipe) to this process's stderr as it comes, keeping its last :data:`TAIL_BYTES`."""

    def __init__(self, pipe: IO[bytes], out: IO[bytes] | None = None) -> None:
        self._pipe = pipe
        self._out = out if out is not None else sys.stderr.buffer
        self._tail = bytearray()
        self._thread = threading.Thread(target=self._copy, name="rlrt-stderr", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        fd = self._pipe.fileno()
        pending = bytearray()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                self._write(bytes(pending))  # a last line without its newline
                return
            # Whole lines only: the script's stdout reaches the terminal directly, so half a line copied here (print
            # writes the text and its newline separately) would have the script's next stdout line run into it.
            pending += chunk
            end = max(pending.rfind(b"\n"), pending.rfind(b"\r")) + 1
            if end or len(pending) > TAIL_BYTES:
                end = end or len(pending)
                self._write(bytes(pending[:end]))
                del pending[:end]
            self._tail += chunk
            if len(self._tail) > 2 * TAIL_BYTES:
                del self._tail[:-TAIL_BYTES]

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._out.write(data)
            self._out.flush()
        except (OSError, ValueError):
            pass  # our own stderr gone: keep the tail all the same

    def text(self, wait_s: float = 5.0) -> str:
        """The tail so far, once the pipe has closed (or after ``wait_s``: a process the script left running may
        hold it open)."""
        self._thread.join(wait_s)
        return bytes(self._tail[-TAIL_BYTES:]).decode("utf-8", "replace")
