"""Lay out the stand-in player as a Unity Linux build: ``<name>.x86_64`` (an executable file) and ``<name>_Data/``.

The generated executable is a two-line Python launcher whose shebang is this interpreter (the one with grpcio and
mlagents_envs), so ``UnityEnvironment`` can start it from any folder, exactly as it starts a real player.
"""

from __future__ import annotations

import random
import stat
import sys
import time
from pathlib import Path
from typing import Sequence

import psutil

from envs.unity.session import port_is_free

PLAYER_SOURCE = Path(__file__).resolve().parent / "standin_player.py"


def make_player(
    folder: Path, name: str = "Basic", args: Sequence[str] = (), executable: bool = True, data_folder: bool = True
) -> Path:
    """Write ``folder/<name>.x86_64`` running the stand-in with ``args`` (e.g. ``["--game", "ball"]``); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    player = folder / f"{name}.x86_64"
    player.write_text(
        f"#!{sys.executable}\n"
        f"import sys; sys.path.insert(0, {str(PLAYER_SOURCE.parent)!r}); import standin_player\n"
        f"sys.exit(standin_player.main([*{list(args)!r}, *sys.argv[1:]]))\n"
    )
    mode = player.stat().st_mode
    player.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if executable else mode & ~0o111)
    if data_folder:
        (folder / f"{name}_Data").mkdir(exist_ok=True)
        (folder / f"{name}_Data" / "app.info").write_text(f"Unity Technologies\n{name}\n")
    return player


def running_players(folder: Path, wait_s: float = 10.0) -> list[psutil.Process]:
    """Player processes started from under ``folder`` still running after up to ``wait_s`` seconds (then killed)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = []
        for proc in psutil.process_iter(["cmdline", "status"]):
            try:
                alive = proc.info["status"] != psutil.STATUS_ZOMBIE
                if alive and any(str(folder) in part for part in proc.info["cmdline"] or []):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if not found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for proc in found:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return found


def free_base_port(span: int = 32) -> int:
    """A base port whose next ``span`` ports are free now (by the Unity session's own check). It is drawn from
    20000-32767: below Linux's ephemeral range (32768-60999), where any process's outgoing connection or port-0 bind
    may take one of them between this check and a player's bind, and above Ray's worker ports (10002-19999)."""
    draw = random.Random()  # seeded from the OS: parallel test workers draw different bases
    for _ in range(200):
        base = draw.randrange(20000, 32768 - span)
        if all(port_is_free(base + offset) for offset in range(span)):
            return base
    raise RuntimeError(f"no {span} consecutive free ports found in 20000-32767")
