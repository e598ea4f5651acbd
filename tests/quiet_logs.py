"""The allow-list of a job's log: every line must be one of rlrt's own formats, so a line a user cannot act on (a
library's notice, a banner, a line printed twice in another format) fails the test that ran the job.

rlrt's formats: ``rlrt: ...`` lines and their indented continuation lines; the metric lines SageMaker's regexes scrape
(``name: number``, :mod:`runtime.metric_lines`); the seeds' Coach-style lines (``Training> ...``, ``Testing> ...``,
``Policy training> ...``) and ``Episode reward: <x>. Episode steps: <n>``; ``rlrt-timing: <phase> <seconds>`` when
the job ran with ``RLRT_TIMINGS=1``; the progress bars rlrt draws (``collect: 40%|...``, ``tuning: ...``); the line
per iteration a terminal gets (``iteration 2 | 4,096 steps, 1,210/s | ...``); the trial table ``rlrt tune`` prints;
blank lines. A line an env runner writes carries Ray's ``(ActorName pid=N)`` prefix and is
judged without it.

A test whose own code makes a line (a launcher script's ``import gym`` prints gym's notice about itself, once, before
rlrt runs) names those lines exactly (``expected``).
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Collection

from gym_notices.notices import notices

NUMBER = r"[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?"
OWN_LINES = (
    re.compile(r"rlrt: "),
    re.compile(rf"[A-Za-z_][A-Za-z0-9_]*: {NUMBER}$"),  # metric lines
    re.compile(r"(Training|Testing|Policy training)> \S"),  # the seeds' Coach-style lines
    re.compile(rf"Episode reward: {NUMBER}\. Episode steps: \d+$"),  # the seeds' evaluate-ray.py line
    re.compile(r"[a-z][a-z -]*: +\d+%\|[^|]*\| *\d+/\d+ \[[^\]]*\]$"),  # a tqdm progress bar (collect, tuning)
    re.compile(r"[a-z]+ \d+ \| [0-9,]+ [a-z ]+(, [0-9,]+/s)? \|"),  # a training iteration's line in a terminal
)
TIMING_LINE = re.compile(r"rlrt-timing: \S.* [0-9.]+$")
TABLE_HEADER = re.compile(r"trial {2,}\S")
"""``rlrt tune``'s trial table: its header, then one row a trial up to the next ``rlrt:`` line."""
RAY_PREFIX = re.compile(r"(\x1b\[\d+m)?\(\w+ pid=\d+(, ip=[0-9.]+)?\)(\x1b\[0m)? ?")
"""What Ray puts before a line an actor (an env runner) wrote."""


def gym_notice() -> list[str]:
    """The lines the old ``gym`` package prints about itself when a user's script imports it (gym_notices' text)."""
    return str(notices.get(importlib.metadata.version("gym"), "")).splitlines()


def unexpected_lines(output: str, timings: bool = False, expected: Collection[str] = ()) -> list[str]:
    """The lines of ``output`` (a job's stdout and stderr together) that are none of rlrt's formats (see the module's
    docstring); ``timings``: the job ran with ``RLRT_TIMINGS=1``; ``expected``: lines the test's own code makes."""
    unexpected: list[str] = []
    continues = in_table = False  # the line before was rlrt's (an indented line continues it) / a table's
    for raw in output.splitlines():
        line = RAY_PREFIX.sub("", raw, count=1) if RAY_PREFIX.match(raw) else raw
        if not line.strip():
            in_table = False
            continue
        if line[0].isspace():
            if not continues:
                unexpected.append(raw)
            continue
        if TABLE_HEADER.match(line):
            in_table = True
        own = (in_table or any(p.match(line) for p in OWN_LINES) or (timings and TIMING_LINE.match(line))) and (
            "\x1b[" not in line
        )
        if line.startswith("rlrt: "):
            in_table = False
        continues = bool(own)
        if not own and line not in expected:
            unexpected.append(raw)
    return unexpected
