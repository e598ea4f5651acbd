"""An unknown option on rlrt's command line: the command's own usage and the closest option it knows, for every
command (argparse alone gave the top-level usage and no hint)."""

from __future__ import annotations

import pytest

from runtime.arguments import closest_option, unknown_options
from runtime.cli import build_parser, main


def usage_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``rlrt ARGS`` writes when argparse refuses it (exit 2)."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "args, hint",
    [
        (["train", "--sed", "1"], "--sed: did you mean --seed?"),
        (["train", "--n-timesteps", "1000"], "--n-timesteps: did you mean --timesteps?"),  # RL Zoo's name
        (["train", "--total-timesteps=5000"], "--total-timesteps: did you mean --timesteps?"),  # SB3's learn()
        (["train", "--hyperparams", "lr:0.1"], "--hyperparams: did you mean --set?"),
        (["train", "--base_dir", "x"], "--base_dir: did you mean --base-dir?"),
        (["collect", "--probablities", "[0.5, 0.5]"], "--probablities: did you mean --probabilities?"),
        (["serve", "--prot", "8081"], "--prot: did you mean --port?"),
        (["evaluate-offline", "--modle", "m"], "--modle: did you mean --model?"),
        (["deepracer-evaluate", "--trails", "3"], "--trails: did you mean --trials?"),
        (["tune", "t.yaml", "--ouptut", "o"], "--ouptut: did you mean --output?"),
    ],
)
def test_an_unknown_option_names_the_closest_one_under_the_commands_usage(
    args: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(args, capsys)
    command = args[0]
    assert f"usage: rlrt {command} " in err and f"rlrt {command}: error: unrecognized arguments: " in err, err
    assert f"({hint})" in err, err


def test_a_missing_required_option_beside_a_misspelt_one_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["transform", "--inptu", "states/", "--output", "out/"], capsys)
    assert (
        "rlrt transform: error: the following arguments are required: --input (--inptu: did you mean --input?)" in err
    ), err


def test_nothing_close_is_named_as_unknown_only(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(["train", "--zzzzzz"], capsys)
    assert err.rstrip().endswith("rlrt train: error: unrecognized arguments: --zzzzzz"), err


def test_what_argparse_takes_is_not_called_unknown() -> None:
    known = ["--seed", "--set", "--timesteps", "-n", "-h"]
    # An unambiguous start is that option; an ambiguous one argparse names itself; values and '--' are not options.
    assert unknown_options(["--tim", "5", "--se", "-n", "7", "--seed=-1", "x=-1", "--", "--sed"], known) == []
    assert unknown_options(["--sed", "1", "-x"], known) == ["--sed", "-x"]
    assert closest_option("--n-timesteps", ["--seed"]) is None  # another tool's name, but no such option here
    assert closest_option("--sed=3", known) == "--seed"


def test_the_commands_still_parse(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["train", "--seed", "1", "-n", "100", "--quiet"])
    assert (args.seed, args.timesteps, args.console) == (1, 100, "quiet")
    assert build_parser().parse_args(["train", "-v"]).console == "lines"
    assert build_parser().parse_args(["train"]).console is None
    err = usage_error(["train", "--quiet", "--verbose"], capsys)
    assert "not allowed with argument" in err
