"""The `oms` command's surface: every command is listed and has its help, `oms bench` hands
its arguments to bench's own parser, and what cannot be parsed exits 2 before any call."""

from __future__ import annotations

import re

import pytest

from oms.cli import main

COMMANDS = [
    *("run", "worker", "carrier", "intake", "relay", "migrate", "bench", "history"),
    *("patches", "projections", "events"),
    *("orders", "returns", "cancel", "hold", "release", "backtrack", "skip", "review", "flows"),
]
GROUPS = {
    "history": ["export", "replay"],
    "projections": ["rebuild"],
    "events": ["dead", "tail"],
    "orders": ["show", "events", "list", "watch"],
    "flows": ["list", "show"],
}
# A row of a help panel: `│ name   what it does`.
ROW = re.compile(r"^│ ([a-z]+) {2,}\S", re.MULTILINE)
# Help and usage errors are Typer's panels, in colour where Typer forces it (GITHUB_ACTIONS,
# FORCE_COLOR): read without it.
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def oms(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, CONTROL.sub("", out), CONTROL.sub("", err)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = oms(capsys, "--help")
    assert code == 0
    assert ROW.findall(out) == COMMANDS
    for group, subcommands in GROUPS.items():
        code, out, _ = oms(capsys, group, "-h")
        assert code == 0 and ROW.findall(out) == subcommands


@pytest.mark.parametrize(
    "command",
    [[name] for name in COMMANDS if name not in GROUPS]
    + [[group, name] for group, names in GROUPS.items() for name in names],
    ids=" ".join,
)
def test_every_command_has_its_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = oms(capsys, *command, "--help")
    assert code == 0
    assert f"oms {' '.join(command)}" in out


def test_bench_takes_its_own_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = oms(capsys, "bench", "--help")
    assert code == 0
    assert out.startswith("usage: oms bench [-h] [--orders N]")
    assert "--profile-mode {threads,gil,native}" in out
    code, _, err = oms(capsys, "bench", "--orders", "0")
    assert code == 2 and "argument --orders: expected a whole number ≥ 1, got 0" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["cancel", "ord_1", "--reason", "CUSTOMER", "--line", "ln_1"], "LINE_ID=QUANTITY"),
        (["hold", "ord_1"], "--reason"),
        (["review", "ord_1", "--decision", "maybe"], "'maybe' is not one of"),
        (["orders", "list", "--limit", "many"], "--limit"),
        (["history", "export"], "give an ORDER_ID or --workflow-id"),
        (["history", "export", "ord_1", "--workflow-id", "w"], "not both"),
        (["history", "replay"], "PATH"),
        (["teleport"], "teleport"),
    ],
)
def test_what_cannot_be_parsed_exits_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = oms(capsys, *argv)
    assert code == 2
    assert out == "" and says in " ".join(err.replace("│", " ").split())  # however wrapped
