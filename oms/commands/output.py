"""Printing for the `oms` commands: Rich tables, with colour only on a terminal (and not
with `NO_COLOR`); plain aligned text in a pipe or a file; the API's raw JSON with `--json`.

Text from the API is never read as Rich markup or emoji codes, and a pipe gets whole lines:
nothing is wrapped to a width and no line ends in padding.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

WIDE = 100_000  # the width a pipe or a file gets: no line is wrapped
STATUS_STYLES = {
    "COMPLETED": "green",
    "DELIVERED": "green",
    "CANCELLED": "red",
    "FAILED": "red",
    "ON_HOLD": "yellow",
    "NEEDS_REVIEW": "yellow",
}


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


def console(stream: TextIO | None = None) -> Console:
    """A console on `stream` (stdout as it is now): a terminal's width and colours on a
    terminal, else plain and unbounded, whatever FORCE_COLOR or TTY_COMPATIBLE say."""
    stream = stream or sys.stdout
    tty = is_terminal(stream)
    return Console(
        file=stream,
        force_terminal=tty,
        width=None if tty else WIDE,
        markup=False,
        emoji=False,
        highlight=False,
    )


def emit(*renderables: RenderableType) -> None:
    out = console()
    if out.is_terminal:
        out.print(*renderables)
        return
    with out.capture() as captured:
        out.print(*renderables)
    lines = captured.get().splitlines()
    out.file.write("".join(line.rstrip() + "\n" for line in lines))
    out.file.flush()


def emit_json(value: Any) -> None:
    """The value as the API sent it: indented JSON, no markup, no colour."""
    print(json.dumps(value, indent=2, sort_keys=False), flush=True)


def answer(value: Any, view: Callable[[Any], RenderableType], *, as_json: bool) -> None:
    """The raw JSON with `--json`, else `view(value)`."""
    if as_json:
        emit_json(value)
    else:
        emit(view(value))


def cell(value: Any) -> Text:
    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value))


def status(value: Any) -> Text:
    """A status, coloured by what it means (on a terminal)."""
    text = "" if value is None else str(value)
    return Text(text, style=STATUS_STYLES.get(text, ""))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """Columns two spaces apart under a bold header line, without borders."""
    made = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for header in headers:
        made.add_column(header)
    for row in rows:
        made.add_row(*(cell(value) for value in row))
    return made


def fields(pairs: Sequence[tuple[str, Any]]) -> Table:
    """`name  value` lines, skipping empty values."""
    made = Table.grid(padding=(0, 2))
    made.add_column(style="bold")
    made.add_column()
    for name, value in pairs:
        shown = cell(None if value == [] else value)
        if shown.plain:
            made.add_row(name, shown)
    return made


def stack(*parts: RenderableType) -> Group:
    """`parts` one under the other, a blank line between each."""
    spaced: list[RenderableType] = []
    for part in parts:
        spaced += [Text(""), part] if spaced else [part]
    return Group(*spaced)
