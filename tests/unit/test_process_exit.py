"""Ending a job's process without Python's teardown (runtime.process_exit): the exit handlers run and the code is
kept; a launcher script skips the teardown only when its ``train_main()`` call is the last thing the script runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import rlrt_env

PROBE = textwrap.dedent("""
    import sys
    import threading

    from runtime.process_exit import nothing_runs_after


    def probe():
        print("last:", nothing_runs_after(sys._getframe(1)), flush=True)
""")

CASES = {
    "last statement": ("probe()\n", True),
    "under if __name__": ("if __name__ == '__main__':\n    probe()\n", True),
    "statements after it": ("probe()\nprint('after')\n", False),
    "result kept": ("result = probe()\n", False),
    "inside try/finally": ("try:\n    probe()\nfinally:\n    print('finally')\n", False),
    "inside with": ("import contextlib\nwith contextlib.nullcontext():\n    probe()\n", False),
    "inside a function": ("def main():\n    probe()\n\n\nmain()\n", False),
    "inside a loop": ("for _ in range(1):\n    probe()\n", False),
    "a running non-daemon thread": (
        "stop = threading.Event()\nworker = threading.Thread(target=stop.wait, args=(2,))\nworker.start()\n"
        "probe()\n", False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_script_ends_after_the_call_only_where_nothing_else_runs(tmp_path: Path, case: str) -> None:
    body, expected = CASES[case]
    script = tmp_path / "train.py"
    script.write_text(PROBE + "\n\n" + body)
    result = subprocess.run([sys.executable, str(script)], env=rlrt_env(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"last: {expected}" in result.stdout, result.stdout + result.stderr


def test_an_imported_module_never_counts_as_the_script(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text(PROBE + "\n\nprobe()\n")
    result = subprocess.run([sys.executable, "-c", "import helper"], cwd=tmp_path,
                            env=rlrt_env(PYTHONPATH=f"{tmp_path}:{rlrt_env()['PYTHONPATH']}"),
                            capture_output=True, text=True, timeout=60)
    assert "last: False" in result.stdout, result.stdout + result.stderr


def test_the_exit_handlers_run_and_the_code_is_kept(tmp_path: Path) -> None:
    script = tmp_path / "end.py"
    script.write_text(textwrap.dedent("""
        import atexit
        import sys

        from runtime.process_exit import exit_without_teardown

        atexit.register(lambda: print("handler ran", flush=True))
        sys.stdout.write("unflushed line")
        exit_without_teardown(3)
        print("never")
    """))
    result = subprocess.run([sys.executable, str(script)], env=rlrt_env(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 3
    assert "unflushed line" in result.stdout and "handler ran" in result.stdout and "never" not in result.stdout
