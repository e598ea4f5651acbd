"""The last error of a failed script's stderr, as output/failure names it (runtime/job/script_failure.py)."""

from __future__ import annotations

from pathlib import Path

from runtime.job.script_failure import explain_failure, last_error

CHAINED = """2026-11-25 19:00:00,000 sagemaker-training-toolkit INFO     Invoking user script
Traceback (most recent call last):
  File "/opt/ml/code/env.py", line 3, in <module>
    import gymx
ModuleNotFoundError: No module named 'gymx'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/opt/ml/code/train-x.py", line 7, in <module>
    load()
  File "/opt/ml/code/train-x.py", line 4, in load
    raise RuntimeError("no environment: gymx")
    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
RuntimeError: no environment: gymx
2026-11-25 19:00:01,000 sagemaker-training-toolkit ERROR    Reporting training FAILURE
"""


def test_the_last_traceback_and_its_innermost_frame_are_named() -> None:
    error = last_error(CHAINED)
    assert error is not None and (error.type, error.message) == ("RuntimeError", "no environment: gymx")
    assert error.where() == "train-x.py, line 4"
    assert last_error("ExecuteUserScriptError: ExitCode 1\n") is None


def test_only_the_toolkits_own_failure_is_replaced(tmp_path: Path) -> None:
    failure = tmp_path / "failure"
    failure.write_text('ExecuteUserScriptError:\nExitCode 1\nErrorMessage ""\n')
    explain_failure(failure, "train-x.py", CHAINED, 1)
    assert failure.read_text().startswith(
        "The entry point train-x.py failed (ExecuteUserScriptError: exit code 1): "
        "RuntimeError: no environment: gymx (train-x.py, line 4)."
    )
    failure.write_text("Unknown algorithm 'NoSuchAlgo'\n")  # rlrt's failure path wrote it in the script
    explain_failure(failure, "train-x.py", CHAINED, 2)
    assert failure.read_text() == "Unknown algorithm 'NoSuchAlgo'\n"
