"""A Coach preset that imports what rlrt's ``rl_coach`` does not have (``from rl_coach.agents.ddpg_agent import
DDPGAgentParameters``): said as the agent rlrt does not translate, at the preset's line, with the agents it does,
instead of Python's ``ModuleNotFoundError``."""

from __future__ import annotations

import linecache
import re
from pathlib import Path

from runtime.errors import UserError

TRANSLATED = {
    "ClippedPPO": "RLlib's PPO",
    "ActorCritic": "RLlib's PPO",
    "DQN": "RLlib's DQN",
    "DDQN": "RLlib's DQN",
    "DDQNBCQ": "d3rlpy's DiscreteBCQ, in a BatchRLGraphManager",
}
"""The Coach agents rlrt trains (``sagemaker_rl.coach_translate.AGENTS`` and Batch RL's), and what each becomes."""

_ACRONYMS = {
    "ddpg",
    "td3",
    "dqn",
    "ddqn",
    "ppo",
    "nec",
    "naf",
    "pal",
    "acer",
    "bc",
    "cil",
    "dfp",
    "mmc",
    "qr",
    "hac",
    "bcq",
    "sac",
}


def _agent_name(module: str, line: str) -> str:
    """The agent a missing ``rl_coach.agents.<x>_agent`` module holds: the class the line imports, less
    ``AgentParameters`` (``DDPGAgentParameters``: DDPG), else the module's name (``td3_agent``: TD3)."""
    imported = re.search(r"\b(\w+)AgentParameters\b", line)
    if imported:
        return imported.group(1)
    stem = module.rsplit(".", 1)[-1].removesuffix("_agent")
    return "".join(part.upper() if part in _ACRONYMS else part.capitalize() for part in stem.split("_"))


def missing_coach_module(exc: ImportError, path: Path) -> UserError | None:
    """The :class:`UserError` for the preset ``path`` failing on ``exc``, an import of a part of Coach that rlrt's
    ``rl_coach`` does not have; None for any other import error (the user's own modules)."""
    module = exc.name or ""
    if module != "rl_coach" and not module.startswith("rl_coach."):
        return None
    line_number = 0
    trace = exc.__traceback__
    while trace is not None:
        if Path(trace.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line_number = trace.tb_lineno
        trace = trace.tb_next
    line = linecache.getline(str(path), line_number).strip() if line_number else ""
    at = f"{path.name}, line {line_number}" if line_number else path.name
    shown = f" ({line})" if line else ""
    translated = ", ".join(f"{name} (to {to})" for name, to in TRANSLATED.items())
    if module.startswith("rl_coach.agents."):
        agent = _agent_name(module, line)
        return UserError(
            f"{agent} is not translated by rlrt (these are: {translated}): {at} imports "
            f"{module}{shown}. Train the problem with one of these agents, or with one of rlrt's own "
            "presets."
        )
    return UserError(
        f"{at} imports {module}{shown}, which rlrt's rl_coach does not have: it holds the "
        f"parameters of the presets rlrt translates (agents: {translated}; gym environments), not "
        f"Coach's engine or its other parts ({type(exc).__name__}: {exc})."
    )
