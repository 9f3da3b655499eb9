"""Every numeric flag of every subcommand is checked when the command line is parsed, with a
message naming the flag (issue 13): the test walks the whole parser, so a new `type=int` flag
fails here until it gets one of edgebnn.flags' types."""
from __future__ import annotations

import argparse
import math

import pytest

from edgebnn import cli, flags

#: the numeric types, and the values each must accept
VALID = {
    flags.positive_int: ("1", "64"),
    flags.seed: ("0", str(flags.SEED_MAX)),
    flags.port_number: ("1", "65535"),
    flags.positive_float: ("0.5", "3e-3"),
    flags.non_negative_float: ("0", "1e-5"),
    flags.positive_number: ("8", "0.25"),
    flags.positive_int_list: ("256", "700,500,300,200"),
    flags.positive_number_list: ("1e-3", "1e-3,1e-4,1e-5"),
}
#: refused by every numeric flag
INVALID = ("-1", "nan", "inf", "-inf", "garbage", "", "1x")
#: refused unless 0 is among the type's valid values
ZERO = ("0", "0.0")


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of the top parser and every subcommand, nested ones too."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def numeric_flags() -> list[tuple[str, str, object]]:
    """(command, flag, type) of every option whose values are numbers (by its type, or by
    its default where it has no type)."""
    found = []
    for path, parser in _parsers(cli.build_parser()):
        for action in parser._actions:
            untyped_number = action.type is None and type(action.default) in (int, float)
            if action.type in (int, float) or action.type in VALID or untyped_number:
                found.append((" ".join(path), action.option_strings[-1] if action.option_strings
                              else action.dest, action.type))
    return found


FLAGS = numeric_flags()


def test_the_walk_finds_the_flags_of_the_issue():
    seen = {(command, flag) for command, flag, _ in FLAGS}
    assert {("train", "--batch-size"), ("train", "--limit"), ("train", "--layers"),
            ("train", "--epochs"), ("device train", "--epochs"), ("flash", "--timeout"),
            ("board run", "--tcp-port"), ("bench", "--threads"), ("eval", "--seed")} <= seen


@pytest.mark.parametrize("command, flag, kind", FLAGS, ids=[f"{c} {f}" for c, f, _ in FLAGS])
def test_every_numeric_flag_is_checked(command, flag, kind):
    assert kind in VALID, f"{command} {flag}: type={kind} accepts 0, -1 or nan; use edgebnn.flags"
    for text in VALID[kind]:
        kind(text)
    refused = INVALID + (() if "0" in VALID[kind] else ZERO)
    for text in refused:
        with pytest.raises(argparse.ArgumentTypeError, match=r"^expected .*, found "):
            kind(text)


@pytest.mark.parametrize("args, flag", [
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--limit", "0"], "--limit"),
    (["train", "--limit", "-1"], "--limit"),
    (["train", "--layers", "0"], "--layers"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--width", "0"], "--width"),
    (["compare", "--seeds", "0"], "--seeds"),
    (["tune", "--lrs", "1e-3,1e-3"], "--lrs"),
    (["tune", "--gammas", "20,0"], "--gammas"),
    (["eval", "m.ebnn", "--threads", "0"], "--threads"),
    (["device", "train", "m.ebnn", "-o", "t.ebnn", "--batch", "0"], "--batch"),
    (["device", "info", "--port", "qemu:mps2-an386", "--timeout", "-1"], "--timeout"),
    (["flash", "fw.img", "--port", "p", "--boot-timeout", "nan"], "--boot-timeout"),
    (["bench", "--threads", "0"], "--threads"),
])
def test_a_bad_value_is_refused_at_parse_time_naming_the_flag(args, flag, capsys):
    needs_out = ["--out", "never-written"] if args[0] in ("train", "compare", "tune") else []
    with pytest.raises(SystemExit) as info:
        cli.main(args + needs_out)
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"error: argument {flag}: expected " in err
    assert "Traceback" not in err


def test_values_keep_their_meaning():
    assert flags.positive_number("8") == 8 and isinstance(flags.positive_number("8"), int)
    assert flags.positive_number("0.25") == 0.25
    assert flags.positive_int_list("700,500,") == [700, 500]
    assert flags.positive_int_list("256,256") == [256, 256]   # layer sizes may repeat
    assert flags.positive_number_list("1e-3, 20") == [1e-3, 20]
    assert math.isclose(flags.positive_float("3e-3"), 0.003)
