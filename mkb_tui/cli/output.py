"""How the CLI prints: rich tables on a terminal, plain full-width text through a pipe, never a cut id or source line.

A rich Table sized for a terminal (or for COLUMNS=80 when piped) shortens cells with "…"; identifiers and code must
survive any width, so through a pipe a table is printed as plain aligned columns as wide as their widest cell, and on
a terminal the columns named in `keep` get a minimum width of their widest cell (other columns wrap instead).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mkb_tui.untrusted import shown


class TextConsole(Console):
    """A rich Console whose print shows every str as text (issue 18): never parsed as markup, no highlighting, controls
    made visible. For output that quotes stored or model-written values (a resumed session's model, a stop reason);
    renderables (Text, Table, progress bars) pass as they are."""

    def print(self, *objects: Any, markup: bool | None = False, highlight: bool | None = False, **kwargs: Any) -> None:  # type: ignore[override]
        super().print(*(shown(o) if isinstance(o, str) else o for o in objects), markup=markup, highlight=highlight, **kwargs)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def plain(cell: Any) -> str:
    """A cell's text: a str cell is text (ids, model names and messages from a stored session are never parsed as
    markup; issue 18), with control characters made visible; our own styling comes as rich Text."""
    if isinstance(cell, Text):
        return shown(cell.plain)
    return shown(cell)


def as_cell(cell: Any) -> Any:
    """A cell for a rich Table on a terminal: str as Text (never markup), controls made visible."""
    if isinstance(cell, Text):
        safe = cell.copy()
        safe.plain = shown(cell.plain)
        return safe if len(safe.plain) == len(cell.plain) else Text(safe.plain)
    return Text(shown(cell)) if isinstance(cell, str) else cell


def safe_table(table: Table) -> Table:
    """The table with every str cell, header, title and caption turned into text."""
    for column in table.columns:
        column._cells = [as_cell(c) for c in column._cells]
        column.header = as_cell(column.header)
    table.title = as_cell(table.title) if table.title else table.title
    table.caption = as_cell(table.caption) if table.caption else table.caption
    return table


def table_rows(table: Table) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of a rich Table as plain strings."""
    headers = [plain(c.header) for c in table.columns]
    columns = [[plain(cell) for cell in c.cells] for c in table.columns]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return headers, rows


def plain_table(table: Table) -> str:
    """Aligned columns separated by two spaces, each as wide as its widest cell; multi-line cells flattened."""
    headers, rows = table_rows(table)
    rows = [[cell.replace("\n", " ") for cell in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    right = [c.justify == "right" for c in table.columns]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    out = []
    if table.title:
        out.append(plain(table.title))
    out.append(line(headers))
    out += [line(r) for r in rows]
    if table.caption:
        out.append(plain(table.caption))
    return "\n".join(out)


def keep_whole(table: Table, keep: Iterable[str]) -> Table:
    """Give the named columns a minimum width of their widest cell, so a narrow terminal wraps other columns instead."""
    names = set(keep)
    for column in table.columns:
        if plain(column.header) in names:
            widest = max([len(plain(column.header)), *(len(plain(c)) for c in column.cells)])
            column.min_width = widest
            column.no_wrap = True
            column.overflow = "ignore"
    return table


def print_table(table: Table, *, keep: Iterable[str] = ("id", "task")) -> None:
    if stdout_is_terminal():
        Console().print(safe_table(keep_whole(table, keep)))
    else:
        print(plain_table(table))


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=1, default=str))


def print_text(text: str) -> None:
    """Our text (no markup in it: values from outside are shown as they are), controls made visible."""
    if stdout_is_terminal():
        Console().print(as_cell(text))
    else:
        print(plain(text))
