"""Helpers shared by the benchmarks: machine description, running rlrt as a process, recording results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"


def machine() -> str:
    """One line describing this machine (CPU model, cores, memory, load when measured)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (
        f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, "
        f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} at the start, "
        f"speed: a 10^7-addition Python loop in {python_loop_seconds():.2f} s"
    )


def python_loop_seconds() -> float:
    """Seconds one core takes for a pure-Python loop of 10^7 additions: the same 2-core AMD EPYC VM gave 0.6 s to 1.6 s
    on 2026-11-23 (other tenants of its host), and every figure in bench/results/ scales with it."""
    started = time.perf_counter()
    total = 0
    for i in range(10**7):
        total += i
    return time.perf_counter() - started


def rlrt_env(base: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        **extra,
    }
    return env


def write_tree(base: Path, hyperparameters: dict[str, Any]) -> None:
    """An /opt/ml tree with SageMaker-encoded hyperparameters."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (base / "input" / "data").mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    (config / "inputdataconfig.json").write_text("{}")


def stream_process(
    cmd: Sequence[str],
    env: dict[str, str],
    log: Path,
    cwd: Path = REPO,
    watch: str | None = None,
    threshold: float | None = None,
) -> tuple[int, float, float | None]:
    """Run ``cmd``; return (exit code, wall seconds, seconds until a ``watch: <x>`` line had x >= threshold)."""
    start = time.monotonic()
    reached = None
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            handle.write(line)
            if watch and reached is None and line.startswith(f"{watch}: "):
                try:
                    if threshold is not None and float(line.split(":", 1)[1]) >= threshold:
                        reached = time.monotonic() - start
                except ValueError:
                    pass
        code = proc.wait()
    return code, time.monotonic() - start, reached


def seconds_to_return(base: Path, hyperparameters: dict[str, Any], target: float) -> tuple[float, int, float]:
    """`rlrt train` with ``hyperparameters`` (the default preset, cartpole-ppo, unless they name one) in a fresh tree
    at ``base``: (seconds from process start to the first ``episode_reward_mean`` >= ``target``, or inf; env steps;
    process seconds)."""
    import re
    import shutil

    shutil.rmtree(base, ignore_errors=True)
    write_tree(base, hyperparameters)
    code, wall, reached = stream_process(
        [python(), "-m", "runtime.cli", "train"],
        rlrt_env(base),
        base / "rlrt.log",
        watch="episode_reward_mean",
        threshold=target,
    )
    text = (base / "rlrt.log").read_text()
    assert code == 0, text[-2000:]
    steps = re.findall(r"^timesteps_total: (\d+)$", text, re.M)
    return (reached if reached is not None else float("inf")), int(steps[-1]) if steps else 0, wall


def found(pattern: str, text: str) -> str:
    """The first group of ``pattern`` (a multi-line regex) in a process's log ``text``; an AssertionError with the log's
    end when no line matches (the process printed something else: its error)."""
    import re

    match = re.search(pattern, text, re.M)
    assert match is not None, f"no line matches {pattern!r} in the log, which ends:\n{text[-3000:]}"
    return match.group(1)


def settings_from(items: Sequence[str]) -> dict[str, Any]:
    """``--set NAME=JSON`` arguments as a dict (NAME -> the parsed JSON value)."""
    settings = {}
    for item in items:
        name, _, value = item.partition("=")
        settings[name] = json.loads(value)
    return settings


def python() -> str:
    return sys.executable


def greedy_return(base: Path, episodes: int) -> float:
    """`rlrt evaluate` of ``base/model`` over ``episodes`` greedy episodes (no video); the mean return."""
    code, _, _ = stream_process(
        [
            python(),
            "-m",
            "runtime.cli",
            "evaluate",
            "--base-dir",
            str(_greedy_tree(base)),
            "--model",
            str(base / "model"),
            "--set",
            f"evaluate_episodes={episodes}",
            "--set",
            "record_video_every=0",
        ],
        rlrt_env(base),
        base / "evaluate.log",
    )
    text = (base / "evaluate.log").read_text()
    assert code == 0, text[-3000:]
    return float(found(r"^episode_reward_mean: ([-+0-9.e]+)$", text))


def greedy_episodes(base: Path) -> dict[str, Any]:
    """The ``evaluation.json`` of the last :func:`greedy_return` at ``base``: each episode's return and length."""
    path = _greedy_tree(base) / "output" / "intermediate" / "evaluation.json"
    summary: dict[str, Any] = json.loads(path.read_text())
    return summary


def _greedy_tree(base: Path) -> Path:
    """The job tree :func:`greedy_return` evaluates in."""
    return base / "evaluation"


def train_for(
    base: Path,
    preset: str,
    seconds: float,
    keep_return_stop: bool = False,
    hyperparameters: dict[str, Any] | None = None,
) -> tuple[list[dict[str, str]], float]:
    """`rlrt train` of ``preset`` (with ``hyperparameters`` on top) in a fresh tree at ``base`` for ``seconds`` of
    training (or the preset's own step stop; its return stop only with ``keep_return_stop``); its progress.csv rows
    and the process's wall seconds."""
    import csv

    lifted = {} if keep_return_stop else {"rl.training.stop.episode_reward_mean": 1e9}
    write_tree(base, {"preset": preset, "rl.training.stop.time_total_s": seconds, **lifted, **(hyperparameters or {})})
    code, wall, _ = stream_process([python(), "-m", "runtime.cli", "train"], rlrt_env(base), base / "train.log")
    assert code == 0, (base / "train.log").read_text()[-3000:]
    with (base / "output" / "intermediate" / "progress.csv").open() as handle:
        return list(csv.DictReader(handle)), wall


def today() -> str:
    """Today's date in UTC, as results rows and run records give it."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def short_machine() -> str:
    """The CPU's model without its trademarks and clock, and the cores: what a results row names."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1]
                break
    except OSError:
        pass
    for noise in ("(R)", "(TM)", "(tm)", " CPU", " Processor"):
        model = model.replace(noise, "")
    model = " ".join(model.split("@", 1)[0].split())
    return f"{model}, {os.cpu_count()} cores"


def load_name(under_load: int | None) -> str:
    """The ``load`` of a results row for ``--under-load``'s value: quiet, or the standard load (at nice 19)."""
    if under_load is None:
        return "quiet"
    return "under load" if under_load == 19 else f"under load at nice {under_load}"


def load_key(under_load: int | None) -> str:
    """The part of a results row's key that says its load, so a quiet and a loaded run keep a row each."""
    return "quiet" if under_load is None else ("under-load" if under_load == 19 else f"under-load-nice{under_load}")


def record(
    key: str, result: str, load: str = "quiet", results: Path | None = None, table: Path | None = None, **fields: str
) -> None:
    """Put this run's ``result`` in the row ``key`` of bench/results/results.json, with this machine, today's date
    (UTC), the load and this process's command, then regenerate bench/RESULTS.md from it; the other rows stay as they
    are. ``fields`` give the row's ``figure`` and ``goal``; its ``write_up`` (a file under bench/results/, with the
    section's anchor) is taken only for a key the file does not hold yet, so a row keeps the section it links."""
    import shlex

    import results_table

    results = results or results_table.RESULTS_JSON
    rows = results_table.read_rows(results)
    row = next((row for row in rows if row["key"] == key), None)
    if row is None:
        missing = {"figure", "goal", "write_up"} - set(fields)
        assert not missing, f"results row {key!r} is new: give its {sorted(missing)}"
        row = {"key": key, "write_up": fields["write_up"]}
        rows.append(row)
    script = Path(sys.argv[0]).resolve()
    script_name = f"bench/{script.name}" if script.parent == REPO / "bench" else sys.argv[0]
    row.update({name: value for name, value in fields.items() if name != "write_up"})
    row.update(
        result=result,
        machine=short_machine(),
        load=load,
        date=today(),
        command=shlex.join(["python", script_name, *sys.argv[1:]]),
    )
    results_table.write_rows([{name: row[name] for name in results_table.FIELDS} for row in rows], results)
    results_table.write_table(results, table or results_table.RESULTS_MD)
    print(f"recorded in {results}: {key}: {result}", flush=True)
