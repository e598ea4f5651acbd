"""A command of ``rlrt`` is one module in ``runtime/commands/`` (its ``add_parser`` and its ``run``) and one entry in
``runtime.cli.COMMANDS``: shown with a command that exists only in this test, and held by a check that every command
module is registered."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import types
from typing import Sequence

import pytest

from runtime import cli, commands

HELPERS = {"options"}
"""Modules of ``runtime/commands/`` that hold what several commands share, not a command."""


def hello_command() -> types.ModuleType:
    """What a new file ``runtime/commands/hello.py`` would hold."""
    module = types.ModuleType("runtime.commands.hello")

    def add_parser(sub: argparse._SubParsersAction) -> None:
        hello = sub.add_parser("hello", help="greet someone", description="Print a greeting.")
        hello.add_argument("--name", default="world", help="who to greet")
        hello.set_defaults(run=run)

    def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
        print(f"hello, {args.name}")
        return 3  # not 0: the exit code is the command's own

    module.add_parser = add_parser  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    return module


def test_a_new_command_is_one_module_and_one_registration_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, hello_command()))  # the one line in runtime/cli.py
    assert cli.main(["hello", "--name", "rlrt"]) == 3
    assert capsys.readouterr().out == "hello, rlrt\n"
    with pytest.raises(SystemExit) as shown:
        cli.main(["--help"])
    assert shown.value.code == 0
    assert "greet someone" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["helo"])
    assert "hello" in capsys.readouterr().err  # a typo is answered with the new command's name, as for the others


def test_every_command_module_is_registered_once() -> None:
    modules = {
        importlib.import_module(f"runtime.commands.{info.name}")
        for info in pkgutil.iter_modules(commands.__path__)
        if info.name not in HELPERS
    }
    assert len(cli.COMMANDS) == len(set(cli.COMMANDS))
    assert modules == set(cli.COMMANDS)
    for module in modules:
        assert callable(module.add_parser) and callable(module.run), module.__name__
