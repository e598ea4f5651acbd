"""The command line's parser: argparse's, with an unknown option answered by the command's own usage and the closest
option it knows (``--sed`` -> ``--seed``), where argparse gives the top-level usage and no hint."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any, NoReturn, Sequence

OTHER_TOOLS_NAMES = {
    "--n-timesteps": "--timesteps",  # RL Zoo's train.py
    "--total-timesteps": "--timesteps",  # Stable-Baselines3's learn(total_timesteps=...)
    "--conf-file": "--preset",  # RL Zoo: a hyperparameter file
    "-conf": "--preset",
    "--hyperparams": "--set",  # RL Zoo: KEY:VALUE overrides
    "-params": "--set",
    "--log-folder": "--base-dir",  # RL Zoo: where a run's files go
    "-f": "--base-dir",
}
"""Options other training tools name differently from rlrt, and rlrt's name (offered when the command has it)."""
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def known_options(parser: argparse.ArgumentParser) -> list[str]:
    """The option strings ``parser``'s usage shows (its public description of its options; hidden ones are not
    offered)."""
    return sorted(set(OPTION.findall(parser.format_usage())))


def closest_option(given: str, known: Sequence[str]) -> str | None:
    """The option of ``known`` a user most likely meant by ``given`` (another tool's name for it, else the most
    similar spelling), or None when none is close."""
    name = given.split("=", 1)[0]
    if OTHER_TOOLS_NAMES.get(name) in known:
        return OTHER_TOOLS_NAMES[name]
    long_names = [option for option in known if option.startswith("--")] if name.startswith("--") else known
    match = difflib.get_close_matches(name, long_names, n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_options(args: Sequence[str], known: Sequence[str]) -> list[str]:
    """The options in ``args`` that are none of ``known`` nor the start of one (argparse takes an unambiguous start
    as that option and names the candidates of an ambiguous one itself)."""
    unknown = []
    for arg in args:
        if arg == "--":  # what follows is positional
            break
        name = arg.split("=", 1)[0]
        if (
            OPTION.fullmatch(name)
            and not any(option.startswith(name) for option in known if name.startswith("--"))
            and name not in known
        ):
            unknown.append(name)
    return unknown


class SuggestingParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (its sub-commands' parsers are of this class too) whose errors name, for each option it
    was given and does not know, the closest one it does; an unknown option after a command is reported by that
    command's parser (its usage, ``rlrt train: error: ...``), not by the top-level one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._given: list[str] = []
        self._commands: argparse._SubParsersAction | None = None

    def add_subparsers(self, **kwargs: Any) -> argparse._SubParsersAction:
        self._commands = super().add_subparsers(**kwargs)
        return self._commands

    # typeshed's overloads also type a namespace of the caller's own class, which rlrt never passes.
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._given, namespace)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = str(getattr(parsed, self._commands.dest, "")) if self._commands is not None else ""
            parser = self._commands.choices.get(command, self) if self._commands is not None else self
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def error(self, message: str) -> NoReturn:
        known = known_options(self)
        hints = [
            f"{option}: did you mean {closest}?"
            for option in unknown_options(self._given, known)
            if (closest := closest_option(option, known)) is not None
        ]
        super().error(f"{message} ({'; '.join(hints)})" if hints else message)
